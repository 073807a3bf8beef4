"""Language understanding from the command line.

    python -m nlu parse "where is order 123456"          one JSON object
    python -m nlu parse < messages.txt                    one JSON line per message
    python -m nlu evaluate [--data FILE] [--out DIR]      held-out (default) or any JSONL file
    python -m nlu evaluate --cross-validate 5             k-fold on the training data
    python -m nlu train --data FILE --out DIR             the same engine on any labelled JSONL
    python -m nlu export-clu --out FILE                   a CLU project import file
    python -m nlu review [--days 7]                       messages not understood, to learn from
    python -m nlu add --intent orderStatus "text"         one more example in the training data

`--model DIR` makes parse and evaluate use a model `train` wrote; `--now`, `--tz` and
`--lang` place relative dates ("tomorrow at 3pm") as for a customer there and then.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from config import ConfigError, load_settings
from nlu.classifier import IntentClassifier
from nlu.embedded import EmbeddedRecognizer
from nlu.evaluation import cross_validate, evaluate, write_report
from nlu.training import (
    TrainingDataError,
    add_example,
    held_out_file,
    load_labelled,
    load_training,
)

DEFAULT_REPORT_DIR = Path("build/nlu-report")


def _recognizer(arguments: argparse.Namespace) -> EmbeddedRecognizer:
    if arguments.model:
        return EmbeddedRecognizer.from_model(Path(arguments.model), arguments.lang)
    # The bot's own model cache (NLU_CACHE_DIR): trained once for both.
    return EmbeddedRecognizer.trained(arguments.lang, load_settings().nlu_cache_dir)


def _now(arguments: argparse.Namespace) -> datetime:
    if not arguments.now:
        return datetime.now(UTC)
    now = datetime.fromisoformat(arguments.now)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def parse(arguments: argparse.Namespace) -> int:
    recognizer = _recognizer(arguments)
    now = _now(arguments)

    def line(text: str) -> str:
        recognition = recognizer.recognize_now(text, now=now, time_zone=arguments.tz)
        return json.dumps({"text": text, **recognition.to_json()}, ensure_ascii=False)

    if arguments.text:
        print(line(" ".join(arguments.text)))
    else:
        for text in sys.stdin:
            if text.strip():
                print(line(text.strip()), flush=True)
    return 0


def evaluate_command(arguments: argparse.Namespace) -> int:
    if arguments.cross_validate:
        report = cross_validate(load_training(arguments.lang).examples, arguments.cross_validate)
        print(json.dumps(report))
        return 0
    data = Path(arguments.data) if arguments.data else held_out_file(arguments.lang)
    recognizer = _recognizer(arguments)
    now = _now(arguments)
    report = evaluate(
        load_labelled(data),
        lambda text: recognizer.recognize_now(text, now=now, time_zone=arguments.tz),
    )
    report["data"] = str(data)
    written = write_report(report, Path(arguments.out))
    entities = ", ".join(
        f"{name} {scores['correct']}/{scores['expected']}"
        + (f" ({scores['spurious']} where none)" if scores["spurious"] else "")
        for name, scores in report["entities"].items()
        if scores["expected"] or scores["spurious"]
    )
    print(f"{report['messages']} messages from {data}")
    print(f"intent accuracy {report['accuracy']:.1%}; none recall "
          f"{report['intents'].get('none', {}).get('recall', 0):.1%}")  # fmt: skip
    print(f"entities: {entities}")
    print(f"latency p50 {report['latencyMs']['p50']} ms, p95 {report['latencyMs']['p95']} ms")
    print(f"{len(report['misclassified'])} misclassified; report: "
          f"{', '.join(str(p) for p in written)}")  # fmt: skip
    return 0


def train(arguments: argparse.Namespace) -> int:
    examples = load_labelled(Path(arguments.data))
    model = IntentClassifier.train([e.text for e in examples], [e.intent for e in examples])
    model.save(Path(arguments.out))
    print(f"trained on {len(examples)} messages, {len(model.intents)} intents: {arguments.out}")
    return 0


def export_clu(arguments: argparse.Namespace) -> int:
    """A CLU project import file from the same training data: one set of files, two engines."""
    training = load_training(arguments.lang)
    locale = {"en": "en-us", "es": "es-es", "de": "de-de", "fr": "fr-fr"}.get(
        training.language, training.language
    )
    project = {
        "projectFileVersion": "2023-04-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Conversation",
            "projectName": arguments.project,
            "language": locale,
            "multilingual": False,
            "description": "Customer service bot intents, exported from nlu/data",
            "settings": {"confidenceThreshold": 0},
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [
                {"category": intent} for intent in sorted({e.intent for e in training.examples})
            ],
            "entities": [],
            "utterances": [
                {
                    "text": e.text,
                    "language": locale,
                    "intent": e.intent,
                    "entities": [],
                    "dataset": "Train",
                }
                for e in training.examples
            ],
        },
    }
    Path(arguments.out).write_text(json.dumps(project, indent=2, ensure_ascii=False), "utf-8")
    print(f"CLU project {arguments.project!r}: {len(training.examples)} utterances, "
          f"{len(project['assets']['intents'])} intents: {arguments.out}")  # fmt: skip
    return 0


async def _review(days: int) -> list:
    from app import document_store  # the composition root builds the store, as for the bot
    from nlu.review import ReviewQueue

    settings = load_settings()  # ConfigError: handled by main
    documents = document_store(settings)
    await documents.open()
    try:
        return await ReviewQueue(documents, frozenset()).recent(datetime.now(UTC), days)
    finally:
        await documents.close()


def review(arguments: argparse.Namespace) -> int:
    """Messages not understood (or "not what I meant"), with the guess, newest last."""
    import asyncio

    entries = asyncio.run(_review(arguments.days))
    if arguments.json:
        for entry in entries:
            print(json.dumps(entry.__dict__, ensure_ascii=False))
        return 0
    for entry in entries:
        print(f"{entry.at[:16]}  {entry.channel:9} {entry.reason:13} "
              f"{entry.guess} {entry.confidence:.2f}  {entry.text}")  # fmt: skip
    print(f"{len(entries)} message(s) from the last {arguments.days} day(s); add the ones worth "
          f"learning to nlu/data/<language>/intents.yml")  # fmt: skip
    return 0


def add(arguments: argparse.Namespace) -> int:
    path = add_example(arguments.intent, arguments.text, arguments.lang)
    print(f"{path}: added to {arguments.intent}; check it with python -m nlu evaluate")
    return 0


def frustration(arguments: argparse.Namespace) -> int:
    """For each threshold, the share of angry, annoyed and calm messages flagged, by language:
    what FRUSTRATION_THRESHOLD is chosen on."""
    from nlu.frustration import LABELLED_FILE, FrustrationScorer

    path = Path(arguments.data) if arguments.data else LABELLED_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    scorer = FrustrationScorer()
    scores = [(row, scorer.score(row["text"], row["language"]).score) for row in rows]
    languages = sorted({row["language"] for row in rows})
    print(f"{path.name}: {len(rows)} messages; flagged angry / annoyed / calm")
    print("threshold  " + "  ".join(f"{lang:>16}" for lang in [*languages, "all"]))
    for threshold in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        cells = []
        for language in [*languages, None]:
            shares = []
            for label in ("angry", "annoyed", "calm"):
                chosen = [s for r, s in scores
                          if r["label"] == label and language in (None, r["language"])]  # fmt: skip
                flagged = sum(s >= threshold for s in chosen)
                shares.append(f"{100 * flagged / len(chosen):.0f}" if chosen else "-")
            cells.append("/".join(shares))
        print(f"{threshold:>9}  " + "  ".join(f"{cell:>16}" for cell in cells))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument("--lang", default="en", help="language of the training data")
        command.add_argument("--model", help="a model directory written by train")
        command.add_argument("--now", help="ISO 8601 date-time to place relative dates")
        command.add_argument("--tz", default="UTC", help="the customer's time zone (IANA)")

    parsing = commands.add_parser("parse", help="recognise messages, one JSON line each")
    parsing.add_argument("text", nargs="*", help="the message; none: read lines from stdin")
    common(parsing)
    evaluating = commands.add_parser("evaluate", help="score the recogniser on labelled data")
    evaluating.add_argument("--data", help="labelled JSONL (default: the held-out file)")
    evaluating.add_argument("--out", default=str(DEFAULT_REPORT_DIR), help="report directory")
    evaluating.add_argument("--cross-validate", type=int, metavar="K", help="k-fold on training")
    common(evaluating)
    training = commands.add_parser("train", help="train the engine on labelled JSONL")
    training.add_argument("--data", required=True)
    training.add_argument("--out", required=True)

    exporting = commands.add_parser("export-clu", help="write a CLU project import file")
    exporting.add_argument("--out", default="clu-project.json")
    exporting.add_argument("--project", default="customer-service-bot")
    exporting.add_argument("--lang", default="en")

    reviewing = commands.add_parser("review", help="messages the bot did not understand")
    reviewing.add_argument("--days", type=int, default=7)
    reviewing.add_argument("--json", action="store_true", help="one JSON line per message")

    adding = commands.add_parser("add", help="add an example to the training data")
    adding.add_argument("--intent", required=True)
    adding.add_argument("--lang", default="en")
    adding.add_argument("text")

    upset = commands.add_parser("frustration", help="flagged shares on the labelled messages")
    upset.add_argument("--data", help="labelled JSONL (default: nlu/data/frustration.jsonl)")

    arguments = parser.parse_args(argv)
    handlers = {"parse": parse, "evaluate": evaluate_command, "train": train,
                "export-clu": export_clu, "review": review, "add": add,
                "frustration": frustration}  # fmt: skip
    try:
        return handlers[arguments.command](arguments)
    except (TrainingDataError, ConfigError) as error:
        print(f"nlu: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
