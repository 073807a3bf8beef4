"""What the customer wants, from what they wrote.

Dialogs depend only on `Recognizer`; the rule-based one here can be replaced by
a real NLU service (CLU, an LLM) without touching them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.orders import find_order_number


class Intent(StrEnum):
    ORDER_STATUS = "orderStatus"
    HELP = "help"
    CANCEL = "cancel"
    HUMAN_HANDOFF = "humanHandoff"
    GREETING = "greeting"
    LINK_CHANNEL = "linkChannel"
    DELETE_DATA = "deleteData"
    NONE = "none"


@dataclass(frozen=True)
class Recognition:
    intent: Intent
    order_number: str | None = None


class Recognizer(Protocol):
    async def recognize(self, text: str) -> Recognition: ...


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


# Help and cancel interrupt any step, so they must be the whole message:
# "stop sending me emails about order 123456" is not a request to cancel the dialog.
_HELP = re.compile(
    r"\s*(?:help|help me|\?|what can you do|what do you do|how does this work|menu|options)"
    r"\s*[?!.]*\s*",
    re.IGNORECASE,
)
_CANCEL = re.compile(
    r"\s*(?:cancel|stop|quit|exit|never ?mind|forget it|start over|no thanks)\s*[!.]*\s*",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"\s*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))(?: there)?\s*[!.]*\s*",
    re.IGNORECASE,
)
_LINK = re.compile(
    r"\s*(?:please )?(?:link|connect) (?:another|an other|my other|a new|my) "
    r"(?:channel|account|accounts|app)s?\s*[.!?]*\s*",
    re.IGNORECASE,
)
_DELETE = re.compile(
    r"\s*(?:please )?(?:delete|erase|remove) (?:all )?my (?:data|information|details)"
    r"\s*[.!?]*\s*|\s*forget (?:about )?me\s*[.!?]*\s*",
    re.IGNORECASE,
)
_HUMAN = _words(
    r"agent",
    r"human",
    r"(?:a |real |live )?(?:person|people)",
    r"representative",
    r"operator",
    r"someone (?:real|from (?:your|the) team)",
    r"customer service",
    r"talk to (?:someone|somebody)",
    r"speak to (?:someone|somebody)",
)
_ORDER = _words(
    r"order",
    r"orders",
    r"package",
    r"parcel",
    r"delivery",
    r"deliveries",
    r"shipping",
    r"shipment",
    r"track(?:ing)?",
    r"where is my",
    r"has it shipped",
    r"arrive",
)


class RuleRecognizer:
    """Keyword rules for the intents the bot serves today."""

    async def recognize(self, text: str) -> Recognition:
        text = text or ""
        order_number = find_order_number(text)
        if _HELP.fullmatch(text):
            return Recognition(Intent.HELP)
        if _CANCEL.fullmatch(text):
            return Recognition(Intent.CANCEL)
        if _LINK.fullmatch(text):
            return Recognition(Intent.LINK_CHANNEL)
        if _DELETE.fullmatch(text):
            return Recognition(Intent.DELETE_DATA)
        if _GREETING.fullmatch(text):
            return Recognition(Intent.GREETING)
        if _HUMAN.search(text):
            return Recognition(Intent.HUMAN_HANDOFF, order_number)
        if order_number or _ORDER.search(text):
            return Recognition(Intent.ORDER_STATUS, order_number)
        return Recognition(Intent.NONE)
