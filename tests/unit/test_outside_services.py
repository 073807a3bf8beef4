"""The bot's calls to Translator, Direct Line's token service and a ticketing webhook, each
against a local stand-in speaking its API: what is sent, what is read back, and what the
caller gets when the service is slow, down, or answers something else."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiohttp import web

from services.direct_line import DirectLineTokens, DirectLineUnavailable
from services.signatures import SIGNATURE_HEADER
from services.tickets import TICKET_TTL, Ticket, ticket_key
from services.translator import (
    MAX_CHARACTERS,
    AzureTranslator,
    Translation,
    TranslatorUnavailable,
)
from services.webhook_tickets import WebhookTickets
from state.documents import StorageError
from state.memory_store import MemoryDocumentStore
from tests.conftest import serve
from tests.translator_api import KEY, REGION, StandIn

# --- Translator --------------------------------------------------------------------------


@asynccontextmanager
async def translator(stand_in: StandIn, **options: object) -> AsyncIterator[AzureTranslator]:
    async with serve(stand_in.app()) as url:
        client = AzureTranslator(f"{url}/", KEY, region=REGION, **options)  # type: ignore[arg-type]
        await client.open()
        try:
            yield client
        finally:
            await client.close()
            await client.close()


async def test_texts_are_translated_into_each_language_asked_with_the_source_detected() -> None:
    stand_in = StandIn()
    async with translator(stand_in) as client:
        found = await client.translate(["grazie mille", "ciao"], ["es", "en"])
    assert found == [
        Translation({"es": "muchas gracias", "en": "thank you very much"}, "it"),
        Translation({"es": "[es] ciao", "en": "ciao"}, "en"),
    ]
    [request] = stand_in.requests
    assert request["query"].getall("to") == ["es", "en"] and "from" not in request["query"]
    assert request["headers"]["Ocp-Apim-Subscription-Region"] == REGION
    assert [item.get("text", item.get("Text")) for item in request["body"]] == [
        "grazie mille", "ciao"]  # fmt: skip


async def test_a_known_source_is_sent_and_nothing_is_detected() -> None:
    stand_in = StandIn()
    async with translator(stand_in) as client:
        [found] = await client.translate(["grazie mille"], ["en"], source="it")
    assert found == Translation({"en": "thank you very much"}, None)
    assert stand_in.requests[0]["query"]["from"] == "it"


async def test_too_much_text_is_refused_before_any_call() -> None:
    stand_in = StandIn()
    async with translator(stand_in) as client:
        assert await client.translate(["x" * MAX_CHARACTERS], ["en"])
        with pytest.raises(TranslatorUnavailable, match=f"more than {MAX_CHARACTERS}"):
            await client.translate(["x" * MAX_CHARACTERS, "y"], ["en"])
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_a_failure_is_tried_again_as_many_times_as_set(
    attempts: int, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in = StandIn()
    stand_in.failures = [503] * attempts
    async with translator(stand_in, attempts=attempts) as client:
        with pytest.raises(TranslatorUnavailable, match="HttpResponseError"):
            await client.translate(["grazie mille"], ["en"])
        assert len(stand_in.requests) == attempts
        assert (await client.translate(["grazie mille"], ["en"]))[0].texts == {
            "en": "thank you very much"}  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == ["Translator failed: HttpResponseError"] * (
        attempts
    )


async def test_one_failure_then_the_translation() -> None:
    stand_in = StandIn()
    stand_in.failures = [500]
    async with translator(stand_in) as client:
        [found] = await client.translate(["grazie mille"], ["en"])
    assert found.texts == {"en": "thank you very much"} and len(stand_in.requests) == 2


async def test_every_call_ends_within_the_deadline() -> None:
    stand_in = StandIn()
    stand_in.failures = ["slow"]
    async with translator(stand_in, deadline=0.3) as client:
        with pytest.raises(TranslatorUnavailable, match=r"^deadline passed$"):
            await client.translate(["grazie mille"], ["en"])
        assert client.deadline == 0.3


async def test_five_failed_calls_open_the_circuit_by_default() -> None:
    stand_in = StandIn()
    stand_in.failures = [500] * 5
    async with translator(stand_in, attempts=1) as client:
        for _ in range(5):
            with pytest.raises(TranslatorUnavailable, match="HttpResponseError"):
                await client.translate(["grazie mille"], ["en"])
        with pytest.raises(TranslatorUnavailable, match="circuit open"):
            await client.translate(["grazie mille"], ["en"])
    assert len(stand_in.requests) == 5


async def test_a_translator_that_keeps_failing_is_left_alone_then_tried_again() -> None:
    stand_in = StandIn()
    stand_in.failures = [500] * 4
    async with translator(stand_in, breaker_threshold=2, breaker_reset_after=0.3) as client:
        for _ in range(2):
            with pytest.raises(TranslatorUnavailable):
                await client.translate(["grazie mille"], ["en"])
        with pytest.raises(
            TranslatorUnavailable, match=r"^circuit open: Translator keeps failing$"
        ):
            await client.translate(["grazie mille"], ["en"])
        assert len(stand_in.requests) == 4
        await asyncio.sleep(0.4)
        assert await client.translate(["grazie mille"], ["en"])
    assert len(stand_in.requests) == 5


class Partial(StandIn):
    """Answers with fewer languages, fewer texts, or a shape that is not a translation."""

    def __init__(self, shape: str) -> None:
        super().__init__()
        self.shape = shape

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/translate", self._partial)
        return app

    async def _partial(self, request: web.Request) -> web.Response:
        self.requests.append({"query": request.query})
        answers = {
            "one language short": [{"translations": [{"text": "hola", "to": "es"}]}],
            "one text short": [],
            "not a translation": [{"translations": "hola"}],
        }
        return web.json_response(answers[self.shape])


@pytest.mark.parametrize(
    ("shape", "why"),
    [
        ("one language short", "^not a translation of every text$"),
        ("one text short", "^not a translation of every text$"),
        ("not a translation", "^not a translation$"),
    ],
)
async def test_an_answer_that_does_not_translate_everything_is_no_translation(
    shape: str, why: str
) -> None:
    async with translator(Partial(shape), attempts=1) as client:
        with pytest.raises(TranslatorUnavailable, match=why):
            await client.translate(["gracias"], ["es", "en"])


async def test_a_translator_not_opened_says_so() -> None:
    client = AzureTranslator("https://translator.example", KEY, attempts=1)
    with pytest.raises(TranslatorUnavailable, match=r"^the Translator client is not open$"):
        await client.translate(["hola"], ["en"])
    async with translator(StandIn(), attempts=1) as opened:
        await opened.close()
        with pytest.raises(TranslatorUnavailable, match="not open"):
            await opened.translate(["hola"], ["en"])
    assert AzureTranslator("https://translator.example").deadline == 2.0


async def test_without_a_key_the_managed_identity_signs_in_for_the_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict] = []
    closed: list[bool] = []
    clients: list[dict] = []

    class Credential:
        def __init__(self, **options: object) -> None:
            made.append(options)

        async def close(self) -> None:
            closed.append(True)

    class Client:
        def __init__(self, **options: object) -> None:
            clients.append(options)

        async def close(self) -> None:
            pass

    monkeypatch.setattr("azure.identity.aio.DefaultAzureCredential", Credential)
    monkeypatch.setattr("services.translator.TextTranslationClient", Client)
    client = AzureTranslator("https://translator.example/", None, region="westeurope",
                             resource_id="/subscriptions/s/resource", deadline=1.5,
                             managed_identity_client_id="client-1")  # fmt: skip
    await client.open()
    await client.close()
    await client.close()
    assert made == [{"managed_identity_client_id": "client-1"}] and closed == [True]
    [options] = clients
    assert isinstance(options.pop("credential"), Credential)
    assert options == {"endpoint": "https://translator.example", "region": "westeurope",
                       "resource_id": "/subscriptions/s/resource", "retry_total": 0,
                       "connection_timeout": 1.5}  # fmt: skip
    keyed = AzureTranslator("https://translator.example", KEY)
    await keyed.open()
    await keyed.close()
    assert clients[-1]["region"] is None and "resource_id" not in clients[-1]
    assert clients[-1]["credential"].key == KEY
    unnamed = AzureTranslator("https://translator.example", None)
    await unnamed.open()
    await unnamed.close()
    assert clients[-1]["resource_id"] is None and clients[-1]["region"] is None
    assert made[-1] == {"managed_identity_client_id": None}


# --- Direct Line tokens ------------------------------------------------------------------


class TokenService:
    """Direct Line's POST /v3/directline/tokens/generate, with answers on demand."""

    SECRET = "direct-line-secret"

    def __init__(self, *answers: tuple[int, object] | str) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str | None, object]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/directline/tokens/generate", self._generate)
        return app

    async def _generate(self, request: web.Request) -> web.Response:
        self.requests.append((request.headers.get("Authorization"), await request.json()))
        answer = self.answers.pop(0) if self.answers else (200, None)
        if answer == "slow":
            await asyncio.sleep(30)
        assert isinstance(answer, tuple)
        status, body = answer
        if status == 200 and body is None:
            user = (await request.json())["user"]["id"]
            body = {"conversationId": "conv-1", "token": f"token-for-{user}", "expires_in": 1800}
        return web.Response(status=status, text=json.dumps(body))


@asynccontextmanager
async def tokens(service: TokenService, wait: float = 5.0) -> AsyncIterator[DirectLineTokens]:
    async with serve(service.app()) as url:
        client = DirectLineTokens(f"{url}/", TokenService.SECRET, timeout=wait)
        await client.open()
        try:
            yield client
        finally:
            await client.close()
            await client.close()


async def test_a_token_is_made_for_the_bots_own_user_id_with_the_secret() -> None:
    service = TokenService()
    async with tokens(service) as client:
        token = await client.generate("dl_abc")
    assert (token.token, token.conversation_id, token.expires_in) == (
        "token-for-dl_abc", "conv-1", 1800)  # fmt: skip
    assert service.requests == [(f"Bearer {TokenService.SECRET}", {"user": {"id": "dl_abc"}})]
    bare = TokenService((200, {"token": 12345}))
    async with tokens(bare) as client:
        token = await client.generate("dl_abc")
    assert (token.token, token.conversation_id, token.expires_in) == ("12345", None, 3600)


async def test_a_server_error_is_tried_once_more() -> None:
    service = TokenService((502, {}))
    async with tokens(service) as client:
        assert (await client.generate("dl_abc")).token == "token-for-dl_abc"
    assert len(service.requests) == 2


async def test_two_failures_or_a_slow_service_give_no_token_and_a_log_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = TokenService((503, {}), (500, {}), (200, None))
    async with tokens(service) as client:
        with pytest.raises(DirectLineUnavailable, match="Direct Line answered 500"):
            await client.generate("dl_abc")
    assert len(service.requests) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "no Direct Line token: Direct Line answered 500"]  # fmt: skip
    slow = TokenService("slow", "slow")
    async with tokens(slow, wait=0.2) as client:
        with pytest.raises(DirectLineUnavailable, match="unreachable: TimeoutError"):
            await client.generate("dl_abc")
    assert TokenService.SECRET not in caplog.text


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ((403, {"error": "bad secret"}), "Direct Line answered 403"),
        ((200, {"conversationId": "c"}), "^Direct Line answered without a token$"),
        ((200, ["not", "an", "object"]), "^Direct Line answered without a token$"),
        ((200, {"token": "t", "expires_in": "soon"}), "^Direct Line answered without a token$"),
    ],
)
async def test_a_refusal_or_an_answer_without_a_token_is_not_tried_again(
    answer: tuple[int, object], why: str
) -> None:
    service = TokenService(answer)
    async with tokens(service) as client:
        with pytest.raises(DirectLineUnavailable, match=why):
            await client.generate("dl_abc")
    assert len(service.requests) == 1


async def test_tokens_are_made_only_while_the_client_is_open() -> None:
    with pytest.raises(RuntimeError, match=r"^DirectLineTokens.open\(\) was not awaited$"):
        await DirectLineTokens("http://127.0.0.1:9", "secret").generate("dl_abc")
    async with tokens(TokenService()) as client:
        assert await client.generate("dl_abc")
        await client.close()
        with pytest.raises(RuntimeError, match="was not awaited"):
            await client.generate("dl_abc")


# --- a ticketing webhook -----------------------------------------------------------------

SIGNING_KEY = "ticket-signing-key"
NOW_SECONDS = datetime(2026, 11, 24, 20, 0, tzinfo=UTC).timestamp()
TICKET = Ticket(
    reference="T-7K2M", customer_id="cust-ana", channel="webchat", contact="ana@example.com",
    note="my router keeps dropping", reason="asked", why_no_person="closed",
    created_at=datetime(2026, 11, 24, 20, 0, tzinfo=UTC), case_id="c1",
)  # fmt: skip


class Ticketing:
    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/tickets", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 201)


@asynccontextmanager
async def webhook(
    ticketing: Ticketing, documents: MemoryDocumentStore
) -> AsyncIterator[WebhookTickets]:
    async with serve(ticketing.app()) as url:
        tickets = WebhookTickets(documents, f"{url}/tickets", SIGNING_KEY)
        await tickets.open()
        try:
            yield tickets
        finally:
            await tickets.close()


async def test_a_ticket_is_kept_then_posted_signed_with_its_reference_as_idempotency_key() -> None:
    ticketing, documents = Ticketing(), MemoryDocumentStore()
    async with webhook(ticketing, documents) as tickets:
        assert await tickets.create(TICKET) == TICKET
        kept = await tickets.get("T-7K2M")
    assert kept is not None and kept["note"] == "my router keeps dropping"
    assert "webhookDelivered" not in kept
    [(headers, body)] = ticketing.received
    assert json.loads(body) == TICKET.to_json()
    expected = hmac.new(SIGNING_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert headers["Idempotency-Key"] == "T-7K2M"
    assert headers["Content-Type"].startswith("application/json")
    assert b", " not in body and b": " not in body  # compact: signed as sent


async def test_a_webhook_that_fails_leaves_the_ticket_kept_and_marked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticketing, documents = Ticketing(500, 500, 500, 500), MemoryDocumentStore()
    async with webhook(ticketing, documents) as tickets:
        assert await tickets.create(TICKET) == TICKET
        kept = await tickets.get("T-7K2M")
    assert kept == {**TICKET.to_json(), "webhookDelivered": False}
    assert len(ticketing.received) == 3  # bounded
    assert [r.getMessage() for r in caplog.records] == [
        "ticketing system call failed: ticketing system answered 500",
        "ticket T-7K2M kept, but the ticketing system did not take it: "
        "ticketing system answered 500",
    ]


@pytest.mark.parametrize(("status", "delivered"), [(200, True), (299, True), (300, False),
                                                  (400, False)])  # fmt: skip
async def test_only_a_2xx_delivers_a_ticket(
    status: int, delivered: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async with webhook(Ticketing(status), MemoryDocumentStore()) as tickets:
        await tickets.create(TICKET)
        kept = await tickets.get("T-7K2M") or {}
    assert ("webhookDelivered" not in kept) is delivered
    if not delivered:
        assert f"the ticketing system answered {status}" in caplog.text


async def test_an_undelivered_mark_keeps_the_tickets_retention() -> None:
    now = [NOW_SECONDS]
    documents = MemoryDocumentStore(clock=lambda: now[0])
    async with webhook(Ticketing(500, 500, 500), documents) as tickets:
        await tickets.create(TICKET)
        now[0] += TICKET_TTL - 1
        assert await tickets.get("T-7K2M") is not None
        now[0] += 1
        assert await tickets.get("T-7K2M") is None


async def test_a_refusal_is_not_delivered_and_a_success_after_a_failure_is() -> None:
    refused, documents = Ticketing(400), MemoryDocumentStore()
    async with webhook(refused, documents) as tickets:
        await tickets.create(TICKET)
        assert (await tickets.get("T-7K2M") or {}).get("webhookDelivered") is False
    again, documents = Ticketing(503), MemoryDocumentStore()
    async with webhook(again, documents) as tickets:
        await tickets.create(TICKET)
        assert "webhookDelivered" not in (await tickets.get("T-7K2M") or {})
    assert len(again.received) == 2


async def test_a_ticket_that_cannot_be_marked_is_still_given_to_the_customer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Full(MemoryDocumentStore):
        """Takes the ticket, then no more writes."""

        async def write(self, writes):  # type: ignore[no-untyped-def]
            if self._entries:
                raise StorageError("the store is full")
            return await super().write(writes)

    documents = Full()
    caplog.set_level(logging.WARNING)
    async with webhook(Ticketing(500, 500, 500), documents) as tickets:
        assert await tickets.create(TICKET) == TICKET
    assert "ticket T-7K2M could not be marked undelivered: the store is full" in caplog.messages
    assert ticket_key("T-7K2M") in documents._entries
