"""A company's own order system over HTTP.

Contract (README, "Connect your order system"):
    GET {ORDER_API_URL}/orders/{orderNumber}        orderNumber: digits only
    header X-API-Key: {ORDER_API_KEY}               when ORDER_API_KEY is set
    200 {"orderNumber": str, "status": str, "eta": ISO-8601 str or null,
         "email": str (optional), "postcode": str (optional)}   what proves the order is
                                                                the customer's
    404 no such order
    No redirects are followed (the key must not reach another host); an answer over
    MAX_ANSWER_BYTES, or a status over MAX_STATUS_CHARS, is refused like any bad answer.

Every lookup finishes inside `deadline` seconds (a Teams turn has 15 s), with the
retries and circuit breaker of services/resilient_http.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.orders import Order, OrderNotFound, OrderServiceUnavailable
from services.resilient_http import BadAnswer, ResilientJsonClient, Unavailable

MAX_STATUS_CHARS = 200
MAX_ORDER_NUMBER_CHARS = 32


class HttpOrderService:
    def __init__(self, base_url: str, api_key: str | None = None, **resilience: float) -> None:
        # A 404 is an answer, not a failure of the order system.
        self._client = ResilientJsonClient(
            "order system", base_url, api_key, answers=(OrderNotFound,), **resilience
        )

    async def open(self) -> None:
        await self._client.open()

    async def close(self) -> None:
        await self._client.close()

    async def get_order(self, order_number: str) -> Order:
        if not order_number.isdigit():
            raise ValueError("an order number is digits only")

        def interpret(status: int, body: object) -> Order:
            if status == 404:
                raise OrderNotFound(order_number)
            if status != 200:
                raise BadAnswer(f"order system answered {status}")
            return _order_from(body, order_number)

        try:
            return await self._client.call("GET", f"/orders/{order_number}", interpret)
        except Unavailable as error:
            raise OrderServiceUnavailable(str(error)) from error


def _order_from(body: object, order_number: str) -> Order:
    if not isinstance(body, dict):
        raise BadAnswer("order system answered with something not an order")
    status, eta = body.get("status"), body.get("eta")
    if not isinstance(status, str) or not status.strip():
        raise BadAnswer("order system answered without a status")
    if len(status) > MAX_STATUS_CHARS:
        raise BadAnswer(f"order system answered a status of {len(status)} characters")
    answered_number = body.get("orderNumber")
    if answered_number is not None and (
        not isinstance(answered_number, str | int)
        or len(str(answered_number)) > MAX_ORDER_NUMBER_CHARS
    ):
        raise BadAnswer("order system answered an order number that is not one")
    if eta is not None and not isinstance(eta, str):
        raise BadAnswer("order system answered an eta that is not a string")
    try:
        when = datetime.fromisoformat(eta) if eta else None
    except ValueError:
        raise BadAnswer("order system answered an eta that is not ISO-8601") from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # documented: an eta without an offset is UTC
    proof = {}
    for name, limit in (("email", 254), ("postcode", 16)):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise BadAnswer(f"order system answered a bad {name}")
        proof[name] = value or None
    return Order(str(body.get("orderNumber") or order_number), status.strip(), when, **proof)
