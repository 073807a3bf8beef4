"""What the customer wants, from what they wrote: the contract the dialogs depend on.

Dialogs depend only on `Recognizer` and `Recognition`; the embedded recogniser
(nlu/embedded.py) and Azure CLU give the same result, so either can serve the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Intent(StrEnum):
    ORDER_STATUS = "orderStatus"
    BOOK_APPOINTMENT = "bookAppointment"
    CHANGE_APPOINTMENT = "changeAppointment"
    TROUBLESHOOT = "troubleshoot"
    HUMAN_HANDOFF = "humanHandoff"
    HELP = "help"
    CANCEL = "cancel"
    GREETING = "greeting"
    GOODBYE = "goodbye"
    THANKS = "thanks"
    LINK_CHANNEL = "linkChannel"
    DELETE_DATA = "deleteData"
    STOP_UPDATES = "stopUpdates"
    NONE = "none"


@dataclass(frozen=True)
class Entities:
    order_number: str | None = None  # its digits
    when: str | None = None  # ISO 8601 local date ("2026-11-27") or date-time ("...T15:00")
    device: str | None = None  # a category: laptop, phone, tv, router, printer, ...
    email: str | None = None
    phone: str | None = None  # E.164

    def to_json(self) -> dict[str, str]:
        names = {"order_number": "orderNumber"}
        return {
            names.get(name, name): value
            for name, value in self.__dict__.items()
            if value is not None
        }


@dataclass(frozen=True)
class Recognition:
    intent: Intent
    confidence: float = 1.0
    # The other intents, most likely first, with their confidences.
    runners_up: tuple[tuple[Intent, float], ...] = ()
    entities: Entities = field(default_factory=Entities)
    # The classifier's own label, for a model trained on other intents (CLINC150).
    label: str = ""

    @property
    def order_number(self) -> str | None:
        return self.entities.order_number

    def to_json(self) -> dict:
        return {
            "intent": self.label or self.intent.value,
            "confidence": round(self.confidence, 4),
            "runnersUp": [
                {"intent": intent.value, "confidence": round(score, 4)}
                for intent, score in self.runners_up
            ],
            "entities": self.entities.to_json(),
        }


class Recognizer(Protocol):
    async def recognize(
        self,
        text: str,
        *,
        now: datetime | None = None,
        time_zone: str | None = None,
        language: str | None = None,
    ) -> Recognition:
        """`now` and `time_zone` place relative dates ("tomorrow at 3pm") for the customer;
        `language` is the one chosen for the turn (nlu/language.py)."""
        ...
