"""HttpOrderService against a real local HTTP server playing the order system."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web

from services.http_orders import (
    MAX_ORDER_NUMBER_CHARS,
    MAX_STATUS_CHARS,
    HttpOrderService,
    _order_from,
)
from services.orders import Order, OrderNotFound, OrderServiceUnavailable
from services.resilient_http import MAX_ANSWER_BYTES, BadAnswer, _retry_after, read_at_most
from tests.conftest import OrderHandler, order_system, serve


@asynccontextmanager
async def client(handler: OrderHandler, **options: float) -> AsyncIterator[HttpOrderService]:
    async with order_system(handler) as base_url:
        service = HttpOrderService(base_url, "key-123", **options)
        await service.open()
        try:
            yield service
        finally:
            await service.close()


Answer = Callable[[], web.Response] | None


def answering(*answers: Answer) -> tuple[OrderHandler, list[web.Request]]:
    """A handler giving `answers` in turn (None: hang); the last one repeats."""
    calls: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request)
        answer = answers[min(len(calls), len(answers)) - 1]
        if answer is None:
            await asyncio.sleep(3600)
        return answer()

    return handler, calls


def order_json() -> web.Response:
    return web.json_response(
        {"orderNumber": "123456", "status": "out for delivery", "eta": "2026-11-24T18:00:00+00:00"}
    )


def status(code: int, **headers: str) -> Answer:
    return lambda: web.Response(status=code, headers=headers)


async def test_an_order_is_read_with_the_api_key() -> None:
    handler, calls = answering(order_json)
    async with client(handler) as service:
        order = await service.get_order("123456")
    assert (order.order_number, order.status) == ("123456", "out for delivery")
    assert order.eta == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert calls[0].path == "/orders/123456"
    assert calls[0].headers["X-API-Key"] == "key-123"
    assert calls[0].headers["Accept"] == "application/json"


async def test_404_means_no_such_order_and_is_not_retried() -> None:
    handler, calls = answering(status(404))
    async with client(handler) as service:
        with pytest.raises(OrderNotFound):
            await service.get_order("999999")
    assert len(calls) == 1


async def test_5xx_and_429_are_retried_then_answered() -> None:
    handler, calls = answering(
        status(503),
        status(429, **{"Retry-After": "0"}),
        order_json,
    )
    async with client(handler) as service:
        order = await service.get_order("123456")
    assert order.status == "out for delivery"
    assert len(calls) == 3


async def test_retries_are_bounded() -> None:
    handler, calls = answering(status(500))
    async with client(handler, max_attempts=3) as service:
        with pytest.raises(OrderServiceUnavailable):
            await service.get_order("123456")
    assert len(calls) == 3


async def test_a_retry_after_longer_than_the_deadline_fails_at_once() -> None:
    handler, calls = answering(status(429, **{"Retry-After": "120"}))
    async with client(handler, deadline=5.0) as service:
        with pytest.raises(OrderServiceUnavailable):
            await service.get_order("123456")
    assert len(calls) == 1


async def test_a_hanging_order_system_is_given_up_at_the_deadline() -> None:
    handler, calls = answering(None)
    async with client(handler, attempt_timeout=0.3, deadline=1.0) as service:
        started = time.monotonic()
        with pytest.raises(OrderServiceUnavailable):
            await service.get_order("123456")
        assert time.monotonic() - started < 5  # the order system would have hung for an hour
    assert len(calls) >= 2  # a timed-out attempt is retried while the deadline allows


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.Response(text="<html>gateway</html>", content_type="text/html"),
        lambda: web.json_response({"orderNumber": "123456"}),
        lambda: web.json_response({"orderNumber": "123456", "status": "shipped", "eta": "soon"}),
        status(401),
    ],
)
async def test_a_bad_answer_is_unavailable_not_a_crash(answer: Answer) -> None:
    handler, calls = answering(answer)
    async with client(handler) as service:
        with pytest.raises(OrderServiceUnavailable):
            await service.get_order("123456")
    assert len(calls) == 1


async def test_the_circuit_opens_after_repeated_failures_and_recovers() -> None:
    healthy = False

    async def handler(request: web.Request) -> web.Response:
        calls.append(request)
        return order_json() if healthy else web.Response(status=503)

    calls: list[web.Request] = []
    options = dict(max_attempts=1, breaker_threshold=3, breaker_reset_after=0.5)
    async with client(handler, **options) as service:
        for _ in range(3):
            with pytest.raises(OrderServiceUnavailable):
                await service.get_order("123456")
        with pytest.raises(OrderServiceUnavailable, match="circuit open"):
            await service.get_order("123456")
        assert len(calls) == 3  # the open circuit did not call the order system

        healthy = True
        await asyncio.sleep(0.6)
        assert (await service.get_order("123456")).status == "out for delivery"
        assert (await service.get_order("123456")).status == "out for delivery"
    assert len(calls) == 5


async def test_an_unreachable_order_system_is_unavailable() -> None:
    service = HttpOrderService("http://127.0.0.1:9", deadline=2.0)
    await service.open()
    try:
        with pytest.raises(
            OrderServiceUnavailable, match=r"^order system unreachable: ClientConnectorError$"
        ):
            await service.get_order("123456")
    finally:
        await service.close()


ORDER = {"orderNumber": "123456", "status": " shipped ", "eta": None}


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"status": None}, "without a status"),
        ({"status": "   "}, "without a status"),
        ({"status": 7}, "without a status"),
        ({"status": "x" * (MAX_STATUS_CHARS + 1)}, f"a status of {MAX_STATUS_CHARS + 1} char"),
        ({"orderNumber": ["123456"]}, "an order number that is not one"),
        ({"orderNumber": "1" * (MAX_ORDER_NUMBER_CHARS + 1)}, "an order number that is not one"),
        ({"eta": 1764000000}, "an eta that is not a string"),
        ({"eta": "tomorrow"}, "an eta that is not ISO-8601"),
        ({"email": "a" * 243 + "@example.com"}, "a bad email"),  # 255 characters
        ({"email": ["ana@example.com"]}, "a bad email"),
        ({"postcode": "SW1A 1AA SW1A 1AA"}, "a bad postcode"),
    ],
)
def test_each_bad_answer_says_what_was_wrong(changes: dict, why: str) -> None:
    with pytest.raises(BadAnswer, match=f"^order system answered {why}"):
        _order_from({**ORDER, **changes}, "123456")


@pytest.mark.parametrize("body", [[ORDER], "shipped", None])
def test_an_answer_that_is_not_an_object_is_not_an_order(body: object) -> None:
    with pytest.raises(BadAnswer, match=r"^order system answered with something not an order$"):
        _order_from(body, "123456")


def test_an_answer_at_every_limit_is_an_order() -> None:
    email = "a" * 242 + "@example.com"  # 254 characters
    order = _order_from({
        "orderNumber": "1" * MAX_ORDER_NUMBER_CHARS, "status": "s" * MAX_STATUS_CHARS,
        "eta": "2026-11-24T18:00:00", "email": email, "postcode": "SW1A 1AA SW1A 1A",
    }, "123456")  # fmt: skip
    assert order.order_number == "1" * MAX_ORDER_NUMBER_CHARS
    assert order.status == "s" * MAX_STATUS_CHARS
    assert order.eta == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # no offset: UTC
    assert (order.email, order.postcode) == (email, "SW1A 1AA SW1A 1A")


def test_what_an_answer_leaves_out_is_taken_from_the_question_or_left_unknown() -> None:
    order = _order_from({"status": " shipped ", "eta": "", "email": "", "postcode": None}, "42")
    assert order == Order("42", "shipped", None, email=None, postcode=None)
    numbered = _order_from({"orderNumber": 123456, "status": "shipped"}, "0123456")
    assert numbered.order_number == "123456"  # as the order system numbers it
    tokyo = _order_from({**ORDER, "eta": "2026-11-25T03:00:00+09:00"}, "123456")
    assert tokyo.eta == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert tokyo.eta is not None and tokyo.eta.utcoffset() == timedelta(hours=9)


async def test_the_bad_answer_is_what_the_caller_and_the_log_are_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, _ = answering(lambda: web.json_response({"orderNumber": "123456", "eta": None}))
    async with client(handler) as service:
        with pytest.raises(OrderServiceUnavailable, match="order system answered without a status"):
            await service.get_order("123456")
        with pytest.raises(ValueError, match="digits only"):
            await service.get_order("12345/../admin")
    assert "order system call failed: order system answered without a status" in caplog.text


def padded_order(size: int) -> bytes:
    """An order answer of exactly `size` bytes (a long note the bot ignores)."""
    start, end = b'{"orderNumber": "123456", "status": "Shipped", "note": "', b'"}'
    return start + b"x" * (size - len(start) - len(end)) + end


def streamed(body: bytes, *, pieces: int, with_length: bool) -> Answer:
    """The body written in `pieces`, a pause between them (a slow or distant system), with
    or without a Content-Length (chunked)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "application/json"}
        if with_length:
            headers["Content-Length"] = str(len(body))
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            await response.write(body[start : start + step])
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    return answer  # type: ignore[return-value]


def stream_handler(answer: Answer) -> OrderHandler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await answer(request)  # type: ignore[misc]

    return handler


@pytest.mark.parametrize("with_length", [True, False])
@pytest.mark.parametrize("size", [1000, MAX_ANSWER_BYTES])
async def test_an_answer_arriving_in_pieces_is_read_whole(size: int, with_length: bool) -> None:
    handler = stream_handler(streamed(padded_order(size), pieces=8, with_length=with_length))
    async with client(handler) as service:
        order = await service.get_order("123456")
    assert (order.order_number, order.status) == ("123456", "Shipped")


@pytest.mark.parametrize(
    ("with_length", "why"),
    [
        (True, f"order system answered {MAX_ANSWER_BYTES + 1} bytes"),
        (False, f"order system answered more than {MAX_ANSWER_BYTES} bytes"),
    ],
)
async def test_one_byte_over_the_limit_is_refused_and_says_why(
    with_length: bool, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = padded_order(MAX_ANSWER_BYTES + 1)
    handler = stream_handler(streamed(body, pieces=4, with_length=with_length))
    async with client(handler) as service:
        with pytest.raises(OrderServiceUnavailable, match=f"^{why}$"):
            await service.get_order("123456")
    assert f"order system call failed: {why}" in caplog.text


@pytest.mark.parametrize(
    ("pieces", "kept"),
    [
        # Over the limit, however it arrives: the first limit + 1 bytes, never more in memory.
        ([b"x" * 10, b"x" * 3000], 1001),
        ([b"x" * 1000, b"x"], 1001),
        ([b"x" * 1000, b"x" * 2000], 1001),
        # At the limit or under: all of it.
        ([b"x" * 400, b"x" * 600], 1000),
        ([b"x" * 10], 10),
        ([], 0),
    ],
)
async def test_read_at_most_keeps_the_whole_body_or_one_byte_past_the_limit(
    pieces: list[bytes], kept: int
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", answer)
    async with serve(app) as url, aiohttp.ClientSession() as http, http.get(url) as response:
        assert len(await read_at_most(response.content, 1000)) == kept


def test_retry_after_is_read_in_seconds_or_as_a_date_and_never_below_zero() -> None:
    assert _retry_after("0") == 0.0
    assert _retry_after("7") == 7.0
    assert _retry_after("-5") == 0.0
    now = datetime.now(UTC)
    assert _retry_after(format_datetime(now - timedelta(hours=1), usegmt=True)) == 0.0
    ahead = _retry_after(format_datetime(now + timedelta(seconds=120), usegmt=True))
    assert ahead is not None and 110 < ahead <= 120
    for unreadable in (None, "", "soon", "Mon, 99 Foo 2026"):
        assert _retry_after(unreadable) is None


async def test_what_the_order_system_said_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, _ = answering(
        status(404),
        status(403),
        lambda: web.json_response({"status": "x"}),
        lambda: web.Response(status=300, text="<html>choose</html>"),
    )
    async with client(handler) as service:
        with pytest.raises(OrderNotFound) as missing:
            await service.get_order("999999")
        assert str(missing.value) == "no order 999999"
        with pytest.raises(OrderServiceUnavailable, match=r"^order system answered 403$"):
            await service.get_order("123456")
        # An answer without its number is about the order asked for.
        assert (await service.get_order("234567")).order_number == "234567"
        with pytest.raises(ValueError, match=r"^an order number is digits only$"):
            await service.get_order("12a456")
        # Not a 2xx: what it said is not read as an order, nor as JSON.
        with pytest.raises(OrderServiceUnavailable, match=r"^order system answered 300$"):
            await service.get_order("123456")


async def test_customers_asking_for_orders_that_do_not_exist_never_open_the_circuit() -> None:
    handler, calls = answering(status(404), status(404), status(404), status(404), order_json)
    async with client(handler, breaker_threshold=3) as service:
        for _ in range(4):  # "no such order" is an answer, not a failing system
            with pytest.raises(OrderNotFound):
                await service.get_order("999999")
        assert (await service.get_order("123456")).status == "out for delivery"
    assert len(calls) == 5


async def test_a_redirect_is_not_followed_so_the_key_stays_with_the_order_system() -> None:
    elsewhere: list[web.Request] = []

    async def other_host(request: web.Request) -> web.Response:
        elsewhere.append(request)
        return order_json()

    app = web.Application()
    app.router.add_get("/orders/{number}", other_host)
    async with serve(app) as other_url:
        handler, calls = answering(
            lambda: web.Response(status=302, headers={"Location": f"{other_url}/orders/123456"})
        )
        async with client(handler) as service:
            with pytest.raises(OrderServiceUnavailable, match=r"^order system answered 302$"):
                await service.get_order("123456")
    assert len(calls) == 1 and elsewhere == []


async def test_a_client_answers_only_between_open_and_close_and_a_trailing_slash_is_fine() -> None:
    handler, calls = answering(order_json)
    async with order_system(handler) as base_url:
        service = HttpOrderService(f"{base_url}/", "key-123")
        with pytest.raises(RuntimeError, match=r"^the order system client's open\(\) was not"):
            await service.get_order("123456")
        await service.open()
        assert (await service.get_order("123456")).status == "out for delivery"
        await service.close()
        with pytest.raises(RuntimeError, match="open"):
            await service.get_order("123456")
    assert [call.path for call in calls] == ["/orders/123456"]


async def test_by_default_four_attempts_and_five_failed_calls_open_the_circuit() -> None:
    handler, calls = answering(status(503))
    async with client(handler) as service:
        with pytest.raises(OrderServiceUnavailable):
            await service.get_order("123456")
        assert len(calls) == 4
    handler, calls = answering(status(503))
    async with client(handler, max_attempts=1) as service:
        for _ in range(5):
            with pytest.raises(OrderServiceUnavailable, match=r"^order system answered 503$"):
                await service.get_order("123456")
        with pytest.raises(OrderServiceUnavailable, match="circuit open"):
            await service.get_order("123456")
    assert len(calls) == 5


async def test_a_hanging_order_system_is_reported_as_the_deadline_passing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, _ = answering(None)
    async with client(handler, attempt_timeout=5.0, deadline=0.3) as service:
        with pytest.raises(OrderServiceUnavailable, match=r"^deadline passed$"):
            await service.get_order("123456")
    assert "order system call failed: deadline passed" in caplog.messages
