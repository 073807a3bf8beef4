"""The order system's events: what a valid one is, and accepting each once.

POST /api/order-events with a JSON body, signed the way GitHub and Meta sign webhooks
(`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with
ORDER_EVENTS_SIGNING_KEY>`):

    {"eventId": "evt-8c1f", "orderNumber": "123456", "status": "out for delivery",
     "eta": "2026-11-24T13:00:00Z", "occurredAt": "2026-11-24T10:00:00Z"}

An event more than FRESHNESS from now (either way) is refused, so a captured request
cannot be replayed later; within that time an event id is accepted once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from notifications.updates import OrderEvent

FRESHNESS = timedelta(minutes=5)
MAX_EVENT_BYTES = 16 * 1024


class BadEvent(ValueError):
    """The body is not an order event; the message says what is wrong."""


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="ignore", strict=True)

    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    order_number: str = Field(pattern=r"^\d{6,12}$")
    # Shown to the customer as the order system words it: one line of text.
    status: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    eta: AwareDatetime | None = None
    occurred_at: AwareDatetime


def parse(body: bytes) -> OrderEvent:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("the body is not JSON") from None
    except RecursionError:
        raise BadEvent("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadEvent("the body must be a JSON object")
    try:
        # JSON has no dates: the two times are ISO 8601 strings with an offset.
        event = _Body.model_validate(data, strict=False)
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()})
        raise BadEvent(f"missing or invalid: {', '.join(fields)}") from None
    return OrderEvent(
        event.event_id, event.order_number, event.status.strip(), event.eta, event.occurred_at
    )


def fresh(event: OrderEvent, now: datetime) -> bool:
    return abs(now - event.occurred_at) <= FRESHNESS
