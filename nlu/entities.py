"""Entities in a customer's message: order number, when, device, email, phone.

Plain Python. Order numbers are found by rules with context (services/orders.py), never
in a phone number, a date, a price or a model number; `when` by Duckling (dates and times
in several languages, placed in the customer's time zone); phones by `phonenumbers`;
devices by the synonyms in the training data.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import duckling
import phonenumbers

from nlu.recognizer import Entities
from services.orders import find_order_number, is_date

# Regions whose phone formats are recognised without a leading +.
PHONE_REGIONS = ("GB", "US", "DE", "FR", "ES")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Duckling is only asked when a message could hold a date or a time: most messages don't
# (an order number alone is not a time: digits count only as small numbers, times, dates).
_MAY_HOLD_TIME = re.compile(
    r"(?<!\d)\d{1,2}(?!\d)|\d[:/.-]\d|\b(?:19|20)\d\d\b|"
    r"\b(?:today|tonight|tomorrow|tmr|yesterday|mon|tue|wed|thu|fri|sat|sun|week|weekend|"
    r"month|morning|afternoon|evening|noon|midnight|next|this|last|jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)",
    re.IGNORECASE,
)
# Fewer digits than this cannot be a phone number anywhere.
_PHONE_MIN_DIGITS = 7


# Duckling reads a lone indefinite article as an hour ("para una" -> 1 PM); "a la una",
# "à une heure" and "um eins" say more than the article and are kept.
_ARTICLE_ONLY = re.compile(r"(?:(?:para|por|de|a|pour|f[uü]r)\s+)?(?:una?|une?|ein[e]?[mnr]?)")


class _Duckling:
    """Duckling's runtime, started once per process on first use."""

    _lock = threading.Lock()
    _time_zones = None

    @classmethod
    def parse_time(cls, text: str, now: datetime, time_zone: str, language: str) -> str | None:
        with cls._lock:
            if cls._time_zones is None:
                duckling.init()
                cls._time_zones = duckling.load_time_zones("/usr/share/zoneinfo")
        reference = duckling.parse_ref_time(cls._time_zones, time_zone, int(now.timestamp()))
        context = duckling.Context(
            reference, duckling.default_locale_lang(duckling.parse_lang(language.upper()))
        )
        found = duckling.parse(text, context, duckling.parse_dimensions(["time"]), False)
        for item in found:
            if _ARTICLE_ONLY.fullmatch(str(item.get("body", "")).strip().lower()):
                continue  # "cita para una reparación": an article, not one o'clock
            value = item.get("value") or {}
            if value.get("type") == "interval":
                start, end = value.get("from") or {}, value.get("to") or {}
                if end and (not start or _is_now(start, now)):
                    # "by Saturday": from now until Saturday begins; the customer means Saturday.
                    return _local_iso(end["value"], "day" if "T00:00:00" in end["value"] else "")
                value = start or end  # "Friday afternoon": its start
            if value.get("value"):
                moment = _local_iso(value["value"], value.get("grain", "day"))
                return _afternoon(moment, text)
        return None


# An hour a customer means in the morning: said so, or written as a 24-hour clock ("03:00").
_MORNING = re.compile(
    r"(?<![a-z])a\.?m\b|\b(?:morning|madrugada|de la mañana|morgens|früh|vormittags?|nachts"
    r"|matin|nuit)\b"
    r"|\b0\d[:h.]",
    re.IGNORECASE,
)


def _afternoon(moment: str, said: str) -> str:
    """ "Friday at 3", "el viernes a las 3", "vendredi à 3h": 3 PM. Duckling reads a bare
    hour from 1 to 7 as the early morning; nobody books, or expects a parcel, then."""
    if "T" not in moment or _MORNING.search(said):
        return moment
    at = datetime.fromisoformat(moment)
    if 1 <= at.hour <= 7:
        at = at.replace(hour=at.hour + 12)
    return at.isoformat(timespec="minutes")


def _is_now(value: dict, now: datetime) -> bool:
    return abs((datetime.fromisoformat(value["value"]) - now).total_seconds()) < 60


def _local_iso(value: str, grain: str) -> str:
    moment = datetime.fromisoformat(value)
    if grain in ("year", "quarter", "month", "week", "day"):
        return moment.date().isoformat()
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")


def find_device(text: str, devices: Mapping[str, Sequence[str]]) -> str | None:
    """The device category of the longest synonym in the text ("smart speaker" over "speaker"),
    accents or not ("móvil", "movil")."""
    lowered = f" {re.sub(r'[^a-z0-9-]+', ' ', _plain(text.lower()))} "
    best: tuple[int, str] | None = None
    for padded, length, category in _device_words(devices):
        if padded in lowered and (best is None or length > best[0]):
            best = (length, category)
    return best[1] if best else None


# The synonyms made plain once per catalogue (the recognisers' own, kept for the process),
# not for every message (70 a message).
_DEVICE_WORDS: dict[int, tuple[Mapping[str, Sequence[str]], list[tuple[str, int, str]]]] = {}


def _device_words(devices: Mapping[str, Sequence[str]]) -> list[tuple[str, int, str]]:
    if not devices:
        return []
    known = _DEVICE_WORDS.get(id(devices))
    if known is None or known[0] is not devices:
        words = [(f" {_plain(word)} ", len(word), category)
                 for category, synonyms in devices.items() for word in synonyms]  # fmt: skip
        if len(_DEVICE_WORDS) >= 16:  # a catalogue per language; any other is a caller's own
            _DEVICE_WORDS.clear()
        known = _DEVICE_WORDS[id(devices)] = (devices, words)
    return known[1]


def _plain(text: str) -> str:
    """Without accents: "móvil" -> "movil", "télé" -> "tele", "ß" kept as it is."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def find_email(text: str) -> str | None:
    found = _EMAIL.search(text)
    return found.group() if found else None


def find_phone(text: str) -> str | None:
    """A valid number for one of PHONE_REGIONS, or any well-formed one written with +."""
    if sum(character.isdigit() for character in text) < _PHONE_MIN_DIGITS:
        return None
    for region in PHONE_REGIONS:
        matches = phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.POSSIBLE)
        for match in matches:
            if is_date(match.raw_string.strip()):  # "2026-11-27" dials in Germany
                continue
            if match.raw_string.startswith("+") or phonenumbers.is_valid_number(match.number):
                return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def extract(
    text: str,
    devices: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    time_zone: str = "UTC",
    language: str = "en",
) -> Entities:
    when = None
    # The quick look for a date is written for English; other languages always ask Duckling
    # ("mañana por la tarde" has no digit), at about 1.6 ms a message.
    if language != "en" or _MAY_HOLD_TIME.search(text):
        local_now = now.astimezone(ZoneInfo(time_zone))
        when = _Duckling.parse_time(text, local_now, time_zone, language)
    email = _EMAIL.search(text)
    return Entities(
        order_number=find_order_number(text),
        when=when,
        device=find_device(text, devices),
        email=email.group() if email else None,
        phone=find_phone(text),
    )
