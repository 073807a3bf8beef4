"""Messages the bot did not understand, kept so a person can add them to the training data.

Plain Python over the DocumentStore. One document a day, `nlu/review/<YYYY-MM-DD>`,
holds at most MAX_PER_DAY entries and is forgotten after `keep_days` (REVIEW_RETENTION_DAYS,
30 by default). Texts are masked
before they are stored (emails, phone numbers and runs of 4 or more digits), and nothing
is kept from a restricted channel (RESTRICTED_CHANNELS).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from state.documents import DocumentStore, StorageError, append_to_list

log = logging.getLogger(__name__)

MAX_PER_DAY = 500
KEEP_DAYS = 30
_RETRIES = 5
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\(?\d[\d ()-]{7,}\d")
_DIGITS = re.compile(r"\d{4,}")
# "That's not what I meant": the previous answer missed; its message is kept for review.
_NOT_WHAT_I_MEANT = re.compile(
    r"\s*(?:no,?\s*)?(?:that'?s|that is|thats) not what i (?:meant|asked|wanted|said)\b.*"
    r"|\s*(?:wrong answer|you misunderstood|you didn'?t understand)\b.*",
    re.IGNORECASE,
)


def mask(text: str) -> str:
    text = _EMAIL.sub("<email>", text)
    text = _PHONE.sub("<phone>", text)
    return _DIGITS.sub("<number>", text)


def says_not_what_i_meant(text: str) -> bool:
    return bool(_NOT_WHAT_I_MEANT.fullmatch(text or ""))


@dataclass(frozen=True)
class ReviewEntry:
    text: str  # masked
    guess: str
    confidence: float
    reason: str  # "notUnderstood" or "notWhatIMeant"
    channel: str
    at: str


def _key(day: datetime) -> str:
    return f"nlu/review/{day:%Y-%m-%d}"


class ReviewQueue:
    def __init__(
        self,
        documents: DocumentStore,
        restricted_channels: frozenset[str],
        keep_days: int = KEEP_DAYS,
    ) -> None:
        self._keep_days = keep_days
        self._documents = documents
        self._restricted = restricted_channels

    def keeps_from(self, channel: str) -> bool:
        """Whether a message from this channel may be kept at all (RESTRICTED_CHANNELS)."""
        return channel not in self._restricted

    async def keep(
        self, text: str, guess: str, confidence: float, reason: str, channel: str, at: datetime
    ) -> None:
        """Never fails a turn: a message that cannot be kept is only logged."""
        if not self.keeps_from(channel) or not text.strip():
            return
        entry = {"text": mask(text.strip())[:500], "guess": guess,
                 "confidence": round(confidence, 4), "reason": reason, "channel": channel,
                 "at": at.isoformat()}  # fmt: skip
        try:
            await append_to_list(self._documents, _key(at), "entries", entry,
                                 attempts=_RETRIES, limit=MAX_PER_DAY,
                                 ttl=self._keep_days * 24 * 3600)  # fmt: skip
        except StorageError as error:
            log.warning("a message for review was not kept: %s", error)

    async def recent(self, now: datetime, days: int = 7) -> list[ReviewEntry]:
        keys = [_key(now - timedelta(days=n)) for n in range(days)]
        stored = await self._documents.read(keys)
        return [
            ReviewEntry(**entry)
            for key in reversed(keys)
            if key in stored
            for entry in stored[key].data["entries"]
        ]
