"""Training phrases and labelled messages, as files a support team edits.

    nlu/data/<language>/intents.yml   intents -> example phrases; devices -> synonyms
    nlu/data/<language>/test.jsonl    held-out messages, never trained on:
                                      {"text", "intent", "entities": {"orderNumber", ...}}

Any labelled JSONL file of that shape can be trained on or evaluated
(`python -m nlu train --data`, `python -m nlu evaluate --data`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).with_name("data")


class TrainingDataError(Exception):
    """A training file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingData:
    language: str
    examples: tuple[Example, ...]
    # device category -> the words customers use for it
    devices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything a model learns from changes."""
        body = json.dumps(
            [[e.text, e.intent] for e in self.examples], ensure_ascii=False, sort_keys=True
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def intents_file(language: str = "en") -> Path:
    return DATA_DIR / language / "intents.yml"


def held_out_file(language: str = "en") -> Path:
    return DATA_DIR / language / "test.jsonl"


def load_training(language: str = "en", path: Path | None = None) -> TrainingData:
    path = path or intents_file(language)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TrainingDataError(f"{path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("intents"), dict):
        raise TrainingDataError(f"{path}: needs an 'intents' mapping of intent -> examples")
    examples = []
    for intent, phrases in document["intents"].items():
        if not isinstance(phrases, list) or not phrases:
            raise TrainingDataError(f"{path}: intent {intent!r} needs a list of examples")
        examples.extend(Example(str(phrase).strip(), str(intent)) for phrase in phrases)
    devices = {
        str(category): tuple(str(word).lower() for word in words)
        for category, words in (document.get("devices") or {}).items()
    }
    return TrainingData(document.get("language", language), tuple(examples), devices)


def add_example(intent: str, text: str, language: str = "en", path: Path | None = None) -> Path:
    """Adds `text` as an example of `intent` at the end of that intent's list, keeping the
    file as written (comments, order); TrainingDataError says why it cannot."""
    path = path or intents_file(language)
    text = " ".join(text.split())
    if not text:
        raise TrainingDataError("the example is empty")
    data = load_training(language, path)
    if intent not in {e.intent for e in data.examples}:
        raise TrainingDataError(f"{path}: no intent {intent!r}")
    known = {e.text.lower(): e.intent for e in data.examples}
    if text.lower() in known:
        raise TrainingDataError(f"already an example of {known[text.lower()]!r}")
    held_out = held_out_file(language)
    if held_out.exists() and text.lower() in {e.text.lower() for e in load_labelled(held_out)}:
        raise TrainingDataError("that message is in the held-out file, which measures the bot")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(f"  {intent}:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("    - "):
        end += 1
    lines.insert(end, f"    - {json.dumps(text, ensure_ascii=False)}\n")
    before = path.read_text(encoding="utf-8")
    path.write_text("".join(lines), encoding="utf-8")
    try:
        load_training(language, path)
    except TrainingDataError:
        path.write_text(before, encoding="utf-8")
        raise
    return path


def load_labelled(path: Path) -> list[Example]:
    """A JSONL file of {"text", "intent", "entities"} (entities optional)."""
    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise TrainingDataError(f"{path}: {error}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(Example(row["text"], row["intent"], row.get("entities") or {}))
        except (ValueError, KeyError, TypeError):
            raise TrainingDataError(
                f"{path}:{number}: not a JSON object with text and intent"
            ) from None
    return examples
