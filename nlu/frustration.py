"""How upset a customer sounds: a score per message, from what the message says and what
the conversation shows.

- Words: each language's list of annoyed and angry words and phrases, with a weight
  (nlu/data/<language>/frustration.yml: 1 annoyed, 2 angry, 3 insults and swearing),
  matched as whole words without case or accents.
- English also gets VADER's sentiment (vaderSentiment, its lexicon shipped in the package):
  a clearly negative message adds up to 2.
- How it is written: mostly capitals, "!!!" or "?!".
- The conversation: the bot did not understand the message before, or the customer
  repeats their last message word for word.

At FRUSTRATION_THRESHOLD the bot apologises and offers a person (dialogs/main_dialog.py).
The threshold was chosen on nlu/data/frustration.jsonl (calm, annoyed and angry messages in
the four languages): `python -m nlu frustration` prints the trade-off.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

DATA_DIR = Path(__file__).with_name("data")
LABELLED_FILE = DATA_DIR / "frustration.jsonl"
# What the conversation adds: the message before was not understood (per such message, at
# most two), or this message repeats the last one.
MISSED_BEFORE = 1.0
REPEATED = 1.5
SHOUTING, EXCLAIMING = 2.0, 1.0
# VADER's compound score from -1 to 1: a negative message adds up to this much.
SENTIMENT_WEIGHT = 2.0


@dataclass(frozen=True)
class Frustration:
    score: float
    # What counted, for logs and tests: "word:useless", "capitals", "missed:1", ...
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    """What the conversation shows before this message."""

    missed: int = 0  # messages in a row the bot did not understand
    repeated: bool = False  # the same words as the customer's last message


class FrustrationScorer:
    def __init__(self, words: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._words = {lang: _compiled(found) for lang, found in (words or load_words()).items()}

    def score(
        self, text: str, language: str, conversation: Conversation = Conversation()
    ) -> Frustration:
        reasons: list[str] = []
        score = 0.0
        plain = f" {_plain(text)} "
        for phrase, (pattern, weight) in self._words.get(language, {}).items():
            if pattern.search(plain):
                score += weight
                reasons.append(f"word:{phrase}")
        if language == "en":
            compound = _vader().polarity_scores(text)["compound"]
            if compound < 0:
                score += -compound * SENTIMENT_WEIGHT
                reasons.append(f"sentiment:{compound:.2f}")
        letters = [c for c in text if c.isalpha()]
        words = re.findall(r"[^\W\d_]{2,}", text)
        # Shouting is a sentence in capitals, not a reference ("AP-NOSUCH") or an acronym.
        if (
            len(words) >= 3
            and len(letters) >= 10
            and sum(c.isupper() for c in letters) / len(letters) >= 0.7
        ):
            score += SHOUTING
            reasons.append("capitals")
        if re.search(r"!{2,}|\?!|!\?|\?{3,}", text):
            score += EXCLAIMING
            reasons.append("exclaiming")
        if conversation.missed:
            score += MISSED_BEFORE * min(conversation.missed, 2)
            reasons.append(f"missed:{conversation.missed}")
        if conversation.repeated:
            score += REPEATED
            reasons.append("repeated")
        return Frustration(round(score, 3), tuple(reasons))


def load_words(directory: Path = DATA_DIR) -> dict[str, dict[str, float]]:
    """Each language's words and their weights, from nlu/data/<language>/frustration.yml."""
    found: dict[str, dict[str, float]] = {}
    for path in sorted(directory.glob("*/frustration.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        weights: dict[str, float] = {}
        for weight, phrases in data["words"].items():
            for phrase in phrases:
                weights[str(phrase)] = float(weight)
        found[str(data["language"])] = weights
    return found


def _compiled(words: Mapping[str, float]) -> dict[str, tuple[re.Pattern[str], float]]:
    """A phrase as a whole-word pattern; "nutzlos*" takes any ending (nutzloser, nutzlose)."""
    compiled = {}
    for phrase, weight in words.items():
        stem = phrase.endswith("*")
        body = re.escape(_plain(phrase.rstrip("*")))
        end = r"\w*(?![\w'])" if stem else r"(?![\w'])"
        compiled[phrase] = (re.compile(rf"(?<![\w']){body}{end}"), weight)
    return compiled


def _plain(text: str) -> str:
    """Lower case, no accents, apostrophes kept, other punctuation a space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("\u2019", "'")
    return " ".join(re.sub(r"[^\w' ]+", " ", bare).split())


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()
