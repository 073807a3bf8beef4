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

Every lookup finishes inside `deadline` seconds (a Teams turn has 15 s): each
attempt has its own timeout, connection errors, 5xx and 429 are retried with
exponential backoff and jitter (a 429's Retry-After is honoured when it fits in
the deadline), and a circuit breaker fails fast while the system keeps failing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from services.orders import Order, OrderNotFound, OrderServiceUnavailable

log = logging.getLogger(__name__)

_CIRCUIT = "order-api"
# An order is a few hundred bytes; more is not an order and must not reach memory or a channel.
MAX_ANSWER_BYTES = 64 * 1024
MAX_STATUS_CHARS = 200
MAX_ORDER_NUMBER_CHARS = 32


class _TransientFailure(Exception):
    """Worth another attempt: no connection, a timeout, a 5xx or a 429."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _BadAnswer(Exception):
    """The order system answered something another attempt would not change."""


class HttpOrderService:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        attempt_timeout: float = 2.0,
        deadline: float = 8.0,
        max_attempts: int = 4,
        breaker_threshold: int = 5,
        breaker_reset_after: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._attempt_timeout = attempt_timeout
        self._deadline = deadline
        self._max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)
        # A 404 is an answer, not a failure of the order system.
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold,
            default_ttl=breaker_reset_after,
            exclude=[OrderNotFound],
        )
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        self._session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self._attempt_timeout),
            connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_order(self, order_number: str) -> Order:
        if not order_number.isdigit():
            raise ValueError("an order number is digits only")
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_TransientFailure),
            wait=self._wait,
            # Never start a wait that would end past the deadline.
            stop=stop_after_attempt(self._max_attempts) | stop_before_delay(self._deadline),
            reraise=True,
        )
        try:
            async with asyncio.timeout(self._deadline):
                async for attempt in retrying:
                    with attempt:
                        return await self._attempt(order_number)
        except OrderNotFound:
            raise
        except OpenedState:
            raise OrderServiceUnavailable("circuit open: the order system keeps failing") from None
        except (_TransientFailure, _BadAnswer, TimeoutError) as error:
            log.warning("order lookup failed: %s", error or "deadline passed")
            raise OrderServiceUnavailable(str(error) or "deadline passed") from error
        raise AssertionError("unreachable: tenacity returns or raises")

    def _wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _TransientFailure) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(retry_state)

    async def _attempt(self, order_number: str) -> Order:
        if self._session is None:
            raise RuntimeError("HttpOrderService.open() was not awaited")
        breaker = await self._breakers.get_breaker(_CIRCUIT)
        async with breaker:
            try:
                async with self._session.get(
                    f"{self._base_url}/orders/{order_number}", allow_redirects=False
                ) as response:
                    if response.status == 404:
                        raise OrderNotFound(order_number)
                    if response.status == 429 or response.status >= 500:
                        raise _TransientFailure(
                            f"order system answered {response.status}",
                            _retry_after(response.headers.get("Retry-After")),
                        )
                    if response.status != 200:
                        raise _BadAnswer(f"order system answered {response.status}")
                    body = await _limited_body(response)
                    try:
                        body = json.loads(body)
                    except ValueError:
                        raise _BadAnswer("order system answered with something not JSON") from None
            except (aiohttp.ClientError, TimeoutError) as error:
                raise _TransientFailure(
                    f"order system unreachable: {type(error).__name__}"
                ) from error
            return _order_from(body, order_number)


async def _limited_body(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
        raise _BadAnswer(f"order system answered {response.content_length} bytes")
    body = await response.content.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise _BadAnswer(f"order system answered more than {MAX_ANSWER_BYTES} bytes")
    return body


def _order_from(body: object, order_number: str) -> Order:
    if not isinstance(body, dict):
        raise _BadAnswer("order system answered with something not an order")
    status, eta = body.get("status"), body.get("eta")
    if not isinstance(status, str) or not status.strip():
        raise _BadAnswer("order system answered without a status")
    if len(status) > MAX_STATUS_CHARS:
        raise _BadAnswer(f"order system answered a status of {len(status)} characters")
    answered_number = body.get("orderNumber")
    if answered_number is not None and (
        not isinstance(answered_number, str | int)
        or len(str(answered_number)) > MAX_ORDER_NUMBER_CHARS
    ):
        raise _BadAnswer("order system answered an order number that is not one")
    if eta is not None and not isinstance(eta, str):
        raise _BadAnswer("order system answered an eta that is not a string")
    try:
        when = datetime.fromisoformat(eta) if eta else None
    except ValueError:
        raise _BadAnswer("order system answered an eta that is not ISO-8601") from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # documented: an eta without an offset is UTC
    proof = {}
    for name, limit in (("email", 254), ("postcode", 16)):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise _BadAnswer(f"order system answered a {name} that is not one")
        proof[name] = value or None
    return Order(str(body.get("orderNumber") or order_number), status.strip(), when, **proof)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
