"""Orders: what the bot knows about an order, and the contract of an order system.

Plain Python: no botbuilder types. An order number is 6 to 12 digits; customers
write it with an optional `#`, spaces or dashes ("#123-456", "123 456").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

ORDER_NUMBER_MIN_DIGITS = 6
ORDER_NUMBER_MAX_DIGITS = 12

# Digit groups joined by single spaces or dashes, optionally after a '#'.
_WRITTEN_NUMBER = r"#?\s?\d+(?:[ -]\d+)*"
_INSIDE = re.compile(rf"(?<![\w#+.,/:-]){_WRITTEN_NUMBER}(?![\w-]|[.,/:]\d)")
# What makes a run of digits something other than an order number.
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})")
_PHONE_SHAPE = re.compile(r"0\d[\d ]{8,12}|\d{3}[ -]\d{3}[ -]\d{4}")
_PHONE_WORDS = re.compile(
    r"\b(?:phone|call|tel|mobile|cell|whatsapp|text me|reach me|ring me)\W*(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)
# "+44 7700 900123", "(206) 555 0101": after a country or area code.
_PHONE_PREFIX = re.compile(r"(?:\+\d{1,3}[ -]*|\(\d{2,5}\)[ -]?)$")
_CURRENCY_BEFORE = re.compile(r"[$£€¥]\s?$")
_CURRENCY_AFTER = re.compile(r"^\s?(?:[$£€¥]|eur|euros?|usd|dollars?|gbp|pounds?)\b", re.I)

# Lookups of numbers that find no order, per customer and per conversation, before lookups
# pause: guessing numbers must not read other customers' orders.
MAX_ORDER_MISSES = 5
ORDER_MISS_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Order:
    order_number: str
    # Exactly as the order system words it ("out for delivery").
    status: str
    eta: datetime | None
    # What a customer may give to prove the order is theirs (ORDER_PROOF_REQUIRED).
    email: str | None = None
    postcode: str | None = None

    def proven_by(self, answer: str) -> bool:
        """The customer wrote the order's email or postcode (any case, any spacing)."""
        said = answer.strip().lower()
        emails = {e.strip(".,;:!?()<>\"'") for e in re.findall(r"\S+@\S+", said)}
        if self.email and self.email.strip().lower() in emails:
            return True
        compact = re.sub(r"[\s-]", "", said)
        return bool(self.postcode) and re.sub(r"[\s-]", "", self.postcode.lower()) == compact


# Words of a status after which nothing more happens to an order: no updates are offered.
_FINAL_STATUS = re.compile(
    r"\b(?:delivered|cancel+ed|returned|refunded|collected|picked up)\b", re.I
)


def is_final(status: str) -> bool:
    """ "delivered", "cancelled", "returned to us"; not "out for delivery"."""
    return bool(_FINAL_STATUS.search(status))


class OrderNotFound(Exception):
    def __init__(self, order_number: str) -> None:
        super().__init__(f"no order {order_number}")
        self.order_number = order_number


class OrderServiceUnavailable(Exception):
    """The order system could not answer within the deadline."""


class OrderService(Protocol):
    async def get_order(self, order_number: str) -> Order:
        """The order; raises OrderNotFound or OrderServiceUnavailable."""
        ...


def _digits_if_valid(written: str) -> str | None:
    digits = re.sub(r"\D", "", written)
    if ORDER_NUMBER_MIN_DIGITS <= len(digits) <= ORDER_NUMBER_MAX_DIGITS:
        return digits
    return None


def is_date(written: str) -> bool:
    """2026-11-24, 24-11-2026, 11-24-26; not 55-55-55."""
    match = _DATE.fullmatch(written)
    if not match:
        return False
    if match.group(1):
        year, month, day = (int(g) for g in match.group(1, 2, 3))
        return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31
    first, second = int(match.group(4)), int(match.group(5))
    return 1 <= min(first, second) <= 12 and 1 <= max(first, second) <= 31


def find_order_number(text: str) -> str | None:
    """The first order number written inside a sentence ("where is order #123-456?").

    Never a phone number (a leading 0 and 10 to 13 digits, the 3-3-4 shape, or after
    "call me on"), a date, or an amount of money; model numbers ("RTX 4070", "WX-550") and
    prices ("£499.99") are too short or joined to letters or decimals."""
    if not text:
        return None
    for match in _INSIDE.finditer(text):
        written = match.group().lstrip("# ")
        before, after = text[: match.start()], text[match.end() :]
        if (
            is_date(written)
            or _PHONE_SHAPE.fullmatch(written)
            or _PHONE_WORDS.search(before)
            or _PHONE_PREFIX.search(before)
            or _CURRENCY_BEFORE.search(before)
            or _CURRENCY_AFTER.search(after)
        ):
            continue
        digits = _digits_if_valid(written)
        if digits:
            return digits
    return None
