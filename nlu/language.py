"""Which language to speak with a customer: English, Spanish, German or French.

Plain Python. In order:
1. the customer asks for one ("can we speak Spanish?", "English please", "auf Deutsch
   bitte", "en français svp");
2. the message itself is clearly in one (three words or more, and the detector sure of it);
3. the language chosen before (it follows the customer across channels);
4. the channel's locale ("es-MX" is Spanish);
5. English.

The detector is py3langid (langid.py's model, shipped in its package), restricted to the
four languages: on short customer messages it was the most accurate of the maintained
detectors measured (`python -m bench.language_id`; README "Languages").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from babel import Locale
from py3langid.langid import MODEL_FILE, LanguageIdentifier

SUPPORTED = ("en", "es", "de", "fr")
DEFAULT = "en"
# What the agents' card calls each (agents work in English).
NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French"}
# A message's own language counts only from this many words, at this probability: one or
# two words ("ok", "hallo", "merci") say too little to switch the conversation.
MIN_WORDS = 3
MIN_PROBABILITY = 0.7
# Another language (for the translator) from three words up, at this probability among all
# the model's 97 languages: on the 282 held-out messages of three words or more in the four
# languages, none reaches it (the highest, Spanish taken for Galician, is 0.57).
MIN_FOREIGN_PROBABILITY = 0.6
# The supported language whose understanding a message in another language is translated
# into: the nearest one, English for the rest.
_NEAREST = {"it": "es", "pt": "es", "ca": "es", "gl": "es", "nl": "de", "lb": "de", "af": "de"}

# Each language's name as customers write it, in any of the four languages (accents
# removed before matching).
_NAMES = {
    "en": r"english|ingles|englisch|anglais",
    "es": r"spanish|espanol|castellano|spanisch|espagnol",
    "de": r"german|aleman|deutsch|allemand",
    "fr": r"french|frances|franzosisch|francais",
}
_ASKING = re.compile(
    r"^\W*(?:(?:can|could) (?:we|you|i) (?:speak|talk|write|chat|continue)(?: in)? |"
    r"(?:do you |u )?speak |in |en |auf |(?:se )?habla(?:s|mos)? (?:en )?|hablar en |"
    r"sprechen sie |sprichst du |parlez[- ]vous |parles[- ]tu |on peut parler |"
    r"(?:switch|change) to |please )?"
    r"(?P<name>" + "|".join(f"(?:{names})" for names in _NAMES.values()) + r")"
    r"(?: (?:please|pls|por favor|bitte|svp|s'il vous plait|por favor\.?))?\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LanguageChoice:
    language: str
    # Why: "asked", "message", "before", "locale" or "default".
    source: str


def from_locale(locale: str | None) -> str | None:
    """The supported language of a channel locale ("es-MX" -> "es"), else None."""
    if not locale:
        return None
    language = locale.replace("_", "-").split("-")[0].lower()
    return language if language in SUPPORTED else None


def asked_for(text: str) -> str | None:
    """The language the customer asks to speak, when the message asks for one."""
    plain = _without_accents(text.strip())
    if len(plain) > 60:
        return None
    match = _ASKING.match(plain)
    if not match:
        return None
    name = match.group("name").lower()
    return next(code for code, names in _NAMES.items() if re.fullmatch(names, name))


class LanguageDetector:
    """The language of one message, among the four, when it is clear."""

    def __init__(self) -> None:
        self._identifier = _identifier()

    def detect(self, text: str) -> str | None:
        words = re.findall(r"[^\W\d_]+", text)
        if len(words) < MIN_WORDS:
            return None
        language, probability = self._identifier.classify(" ".join(words))
        return language if probability >= MIN_PROBABILITY else None

    def foreign(self, text: str) -> str | None:
        """The language of a message clearly in none of the four ("dov'è il mio ordine?")."""
        words = re.findall(r"[^\W\d_]+", text)
        if len(words) < MIN_WORDS:
            return None
        language, probability = _all_languages().classify(" ".join(words))
        if language in SUPPORTED or probability < MIN_FOREIGN_PROBABILITY:
            return None
        return language


def nearest(language: str) -> str:
    """The supported language to understand a message of `language` in."""
    return language if language in SUPPORTED else _NEAREST.get(language, DEFAULT)


def language_name(language: str) -> str:
    """A language's English name, for the agents ("it" -> "Italian")."""
    return NAMES.get(language) or Locale("en").languages.get(language) or language


def choose(
    text: str, locale: str | None, before: str | None, detector: LanguageDetector | None
) -> LanguageChoice:
    asked = asked_for(text)
    if asked:
        return LanguageChoice(asked, "asked")
    detected = detector.detect(text) if detector and text else None
    if detected:
        return LanguageChoice(detected, "message")
    if before in SUPPORTED:
        return LanguageChoice(before, "before")
    channel = from_locale(locale)
    if channel:
        return LanguageChoice(channel, "locale")
    return LanguageChoice(DEFAULT, "default")


@functools.cache
def _all_languages() -> LanguageIdentifier:
    """The model with all its languages: loaded only when the translator is on (+90 MB)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.cache
def _identifier() -> LanguageIdentifier:
    """The model, loaded once a process (it takes most of a second and 90 MB)."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(SUPPORTED))
    return identifier


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
