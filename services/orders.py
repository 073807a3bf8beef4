"""Orders: what the bot knows about an order, and the contract of an order system.

Plain Python: no botbuilder types. An order number is 6 to 12 digits; customers
write it with an optional `#`, spaces or dashes ("#123-456", "123 456").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ORDER_NUMBER_MIN_DIGITS = 6
ORDER_NUMBER_MAX_DIGITS = 12

# Digit groups joined by single spaces or dashes, optionally after a '#'.
_WRITTEN_NUMBER = r"#?\s?\d+(?:[ -]\d+)*"
_INSIDE = re.compile(rf"(?<![\w#-]){_WRITTEN_NUMBER}(?![\w-])")


@dataclass(frozen=True)
class Order:
    order_number: str
    # Exactly as the order system words it ("out for delivery").
    status: str
    eta: datetime | None


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


def find_order_number(text: str) -> str | None:
    """The first order number written inside a sentence ("where is order #123-456?")."""
    if not text:
        return None
    for match in _INSIDE.finditer(text):
        digits = _digits_if_valid(match.group())
        if digits:
            return digits
    return None
