"""Calls to a company's own system over HTTP, each inside a deadline.

Each attempt has its own timeout; connection errors, timeouts, 5xx and 429 are retried
with exponential backoff and jitter (a 429's Retry-After is honoured when it fits in the
deadline); a circuit breaker fails fast while the system keeps failing. No redirect is
followed (the key must not reach another host), and an answer over MAX_ANSWER_BYTES is
refused like any bad answer. What an answer means is the caller's: `interpret` turns a
status and a JSON body into a result, or raises one of the caller's `answers` (a 404's
"no such order"), which are neither retried nor counted against the system.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

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

log = logging.getLogger(__name__)

# The bot's systems answer with a few hundred bytes; more must not reach memory or a channel.
MAX_ANSWER_BYTES = 64 * 1024
Result = TypeVar("Result")


class Unavailable(Exception):
    """The system could not answer usefully within the deadline."""


class BadAnswer(Exception):
    """The system answered something another attempt would not change."""


class _TransientFailure(Exception):
    """Worth another attempt: no connection, a timeout, a 5xx or a 429."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ResilientJsonClient:
    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str | None = None,
        *,
        answers: tuple[type[Exception], ...] = (),
        attempt_timeout: float = 2.0,
        deadline: float = 8.0,
        max_attempts: int = 4,
        breaker_threshold: int = 5,
        breaker_reset_after: float = 30.0,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._answers = answers
        self._attempt_timeout = attempt_timeout
        self._deadline = deadline
        self._max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold,
            default_ttl=breaker_reset_after,
            exclude=list(answers),
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

    async def call(
        self,
        method: str,
        path: str,
        interpret: Callable[[int, Any], Result],
        *,
        body: dict | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        """`body` is sent as JSON; bytes are sent as they are (already JSON, e.g. signed).
        `interpret(status, json body or None)` for the first answer that is not a 5xx or
        a 429; raises Unavailable, or what `interpret` raises of `answers`."""
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
                        return await self._attempt(method, path, interpret, body, headers)
        except self._answers:
            raise
        except OpenedState:
            raise Unavailable(f"circuit open: the {self.name} keeps failing") from None
        except (_TransientFailure, BadAnswer, TimeoutError) as error:
            # A deadline's TimeoutError says nothing of itself.
            reason = str(error) or "deadline passed"
            log.warning("%s call failed: %s", self.name, reason)
            raise Unavailable(reason) from error
        raise AssertionError("unreachable: tenacity returns or raises")

    def _wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _TransientFailure) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(retry_state)

    async def _attempt(
        self,
        method: str,
        path: str,
        interpret: Callable[[int, Any], Result],
        body: dict | bytes | None,
        headers: dict[str, str] | None,
    ) -> Result:
        if self._session is None:
            raise RuntimeError(f"the {self.name} client's open() was not awaited")
        breaker = await self._breakers.get_breaker(self.name)
        async with breaker:
            try:
                sent = {"data": body} if isinstance(body, bytes) else {"json": body}
                if isinstance(body, bytes):
                    headers = {"Content-Type": "application/json", **(headers or {})}
                async with self._session.request(
                    method, f"{self._base_url}{path}", headers=headers, allow_redirects=False,
                    **sent,
                ) as response:  # fmt: skip
                    if response.status == 429 or response.status >= 500:
                        raise _TransientFailure(
                            f"{self.name} answered {response.status}",
                            _retry_after(response.headers.get("Retry-After")),
                        )
                    raw = await self._limited_body(response)
            except (aiohttp.ClientError, TimeoutError) as error:
                raise _TransientFailure(
                    f"{self.name} unreachable: {type(error).__name__}"
                ) from error
            try:
                answer = json.loads(raw) if raw.strip() else None
            except ValueError:
                answer = None
                if 200 <= response.status < 300:
                    raise BadAnswer(f"{self.name} answered with something not JSON") from None
            return interpret(response.status, answer)

    async def _limited_body(self, response: aiohttp.ClientResponse) -> bytes:
        if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
            raise BadAnswer(f"{self.name} answered {response.content_length} bytes")
        raw = await read_at_most(response.content, MAX_ANSWER_BYTES)
        if len(raw) > MAX_ANSWER_BYTES:
            raise BadAnswer(f"{self.name} answered more than {MAX_ANSWER_BYTES} bytes")
        return raw


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first limit + 1 bytes when it is longer (the caller refuses
    it): never more in memory. `stream.read(n)` alone returns what has arrived so far, so a
    body that comes in pieces would be cut short."""
    body = bytearray()
    while len(body) <= limit:
        piece = await stream.read(limit + 1 - len(body))
        if not piece:
            break
        body += piece
    return bytes(body)


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
