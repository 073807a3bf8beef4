"""Protocol ring: the real aiohttp app on a port, real activities, replies at the serviceUrl."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bots import adapter
from channels import replies
from config import Settings
from state.memory_store import MemoryDocumentStore
from state.sqlite_store import SqliteDocumentStore
from tests.conftest import make_settings, order_system, serve, serve_bot, serve_bot_parts, texts
from tools.local_channel import TEAMS_TENANT, ChannelUser, LocalChannel

STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


async def test_the_full_conversation(sqlite_settings: Settings) -> None:
    async with serve_bot(sqlite_settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation()
        assert texts(await conversation.join()) == [replies.WELCOME.text]
        assert texts(await conversation.say("where is my order?")) == [
            replies.ASK_ORDER_NUMBER.text
        ]
        answer = await conversation.say("123456")
        assert [a["type"] for a in answer] == ["typing", "message"]
        assert answer[-1]["text"] == STATUS_123456
        # Replies go back into the customer's conversation, addressed to them.
        assert answer[-1]["conversation"]["id"] == conversation.id
        assert answer[-1]["recipient"]["id"] == conversation.user.id


@pytest.mark.parametrize("failure", ["503", "hang"])
async def test_the_order_system_down_is_answered_with_the_fallback(failure: str) -> None:
    async def failing(request: web.Request) -> web.Response:
        if failure == "hang":
            await asyncio.sleep(3600)
        return web.Response(status=503)

    async with order_system(failing) as orders_url:
        settings = make_settings(ORDER_API_URL=orders_url)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            conversation = channel.conversation()
            started = time.monotonic()
            answer = await conversation.say("where is order 123456?")
            waited = time.monotonic() - started
    assert texts(answer) == [replies.ORDER_SYSTEM_DOWN.text]
    # The customer's turn ends well inside Teams' 15 s.
    assert waited < 10


async def test_an_order_system_answer_is_relayed() -> None:
    async def orders(request: web.Request) -> web.Response:
        number = request.match_info["order_number"]
        return web.json_response({"orderNumber": number, "status": "Shipped", "eta": None})

    async with order_system(orders) as orders_url:
        settings = make_settings(ORDER_API_URL=orders_url)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            answer = await channel.conversation().say("where is order 55-55-55")
    assert texts(answer)[-1] == "Your order 555555 is Shipped."


async def test_an_order_the_order_system_does_not_know_is_answered_as_not_found() -> None:
    asked: list[str] = []

    async def orders(request: web.Request) -> web.Response:
        asked.append(request.match_info["order_number"])
        return web.json_response({"error": "no such order"}, status=404)

    async with order_system(orders) as orders_url:
        settings = make_settings(ORDER_API_URL=orders_url)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            conversation = channel.conversation()
            answer = await conversation.say("where is order 424242?")
            # Offered another try, which the customer takes.
            again = await conversation.say("yes")
    assert texts(answer)[-1].startswith(replies.order_not_found("424242").text)
    assert texts(again) == [replies.ASK_ORDER_NUMBER.text]
    assert asked == ["424242"]  # a 404 is an answer, not a failure to retry


async def test_many_unknown_orders_do_not_trip_the_order_systems_circuit() -> None:
    async def orders(request: web.Request) -> web.Response:
        number = request.match_info["order_number"]
        if number != "555555":
            return web.Response(status=404)
        return web.json_response({"orderNumber": number, "status": "Shipped", "eta": None})

    async with order_system(orders) as orders_url:
        settings = make_settings(ORDER_API_URL=orders_url)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            # More customers mistyping their number than the circuit's failure threshold.
            for attempt in range(8):
                number = f"90000{attempt}"
                answer = await channel.conversation().say(f"where is order {number}?")
                assert texts(answer)[-1].startswith(replies.order_not_found(number).text)
            answer = await channel.conversation().say("where is order 555555?")
    assert texts(answer)[-1] == "Your order 555555 is Shipped."


async def test_twenty_concurrent_conversations_never_mix_replies() -> None:
    numbers = ["123456", "234567", "345678", "112233", "778899"]
    async with serve_bot(make_settings()) as bot_url, LocalChannel(bot_url) as channel:
        conversations = [channel.conversation() for _ in range(20)]

        async def ask(index: int) -> list[str]:
            conversation = conversations[index]
            await conversation.say("where is my order?")
            return texts(await conversation.say(numbers[index % len(numbers)]))

        answers = await asyncio.gather(*(ask(i) for i in range(20)))
        for index, conversation in enumerate(conversations):
            number = numbers[index % len(numbers)]
            assert len(answers[index]) == 1
            assert answers[index][0].startswith(f"Your order {number} is")
            # Everything this conversation received was for this conversation.
            received = channel.received(conversation.id)
            assert {a["conversation"]["id"] for a in received} == {conversation.id}
            assert len(texts(received)) == 2


async def test_a_restart_keeps_the_customers_last_order(sqlite_settings: Settings) -> None:
    customer = ChannelUser("alice", "Alice")
    async with serve_bot(sqlite_settings) as bot_url, LocalChannel(bot_url) as channel:
        assert texts(await channel.conversation(customer).say("123456")) == [STATUS_123456]

    async with serve_bot(sqlite_settings) as bot_url, LocalChannel(bot_url) as channel:
        # A new process and a new conversation: the customer's context is still there.
        conversation = channel.conversation(customer)
        offer = await conversation.say("where is my order?")
        assert texts(offer) == ["Is this about order 123456?"]
        assert texts(await conversation.say("yes")) == [STATUS_123456]


def nested(depth: int) -> object:
    value: object = "123456"
    for _ in range(depth):
        value = {"a": [value]} if depth % 2 else [value]
    return value


def stored_keys(settings: Settings) -> list[str]:
    with sqlite3.connect(Path(settings.DATA_DIR) / SqliteDocumentStore.FILE_NAME) as db:
        return sorted(key for (key,) in db.execute("SELECT key FROM documents"))


async def test_bad_requests_get_a_4xx_touch_no_state_and_the_bot_keeps_serving(
    sqlite_settings: Settings,
) -> None:
    async with serve_bot(sqlite_settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation()
        good = conversation.activity(type="message", text="123456")
        without = {field: {k: v for k, v in good.items() if k != field} for field in good}
        no_conversation_id = {**good, "conversation": {"name": "x"}}
        cases = [
            ("not json", "application/json", b"{not json", 400),
            ("a JSON list", "application/json", b"[]", 400),
            ("wrong content type", "text/plain", json.dumps(good).encode(), 415),
            ("no type", "application/json", json.dumps(without["type"]).encode(), 400),
            ("no conversation", "application/json", json.dumps(no_conversation_id).encode(), 400),
            ("no serviceUrl", "application/json", json.dumps(without["serviceUrl"]).encode(), 400),
            ("no channelId", "application/json", json.dumps(without["channelId"]).encode(), 400),
            ("no from", "application/json", json.dumps(without["from"]).encode(), 400),
            ("bad timestamp", "application/json",
             json.dumps({**good, "timestamp": "yesterday"}).encode(), 400),
            ("over 256 KiB", "application/json",
             json.dumps({**good, "text": "x" * (300 * 1024)}).encode(), 413),
            ("10,000 nested arrays", "application/json", b"[" * 10_000 + b"]" * 10_000, 400),
            ("value 900 deep", "application/json",
             json.dumps({**good, "value": nested(900)}).encode(), 400),
            ("from as text", "application/json", json.dumps({**good, "from": "me"}).encode(), 400),
            ("conversation id a number", "application/json",
             json.dumps({**good, "conversation": {"id": 7}}).encode(), 400),
        ]  # fmt: skip
        async with aiohttp.ClientSession() as http:
            for name, content_type, body, status in cases:
                async with http.post(
                    bot_url, data=body, headers={"Content-Type": content_type}
                ) as response:
                    assert response.status == status, name
                    error = await response.json()
                    assert isinstance(error["error"], str) and error["error"], name
            async with http.get(bot_url.replace("/api/messages", "/nowhere")) as response:
                assert response.status == 404
                assert "error" in await response.json()

        assert stored_keys(sqlite_settings) == []
        assert channel.received(conversation.id) == []
        assert texts(await conversation.say("123456")) == [STATUS_123456]


@pytest.mark.parametrize(
    ("channel_id", "corrupt_body", "sent"),
    [
        # A document naming a type the codec does not know: refused, never built.
        ("emulator", '{"DialogState": {"$type": "os.system"}}',
         ["message", "trace"]),
        ("webchat", "{", ["message"]),
    ],
)  # fmt: skip
async def test_a_failed_turn_apologises_then_starts_clean(
    sqlite_settings: Settings, channel_id: str, corrupt_body: str, sent: list[str]
) -> None:
    async with serve_bot(sqlite_settings) as bot_url, LocalChannel(bot_url, channel_id) as channel:
        conversation = channel.conversation()
        await conversation.say("where is my order?")
        key = f"{channel_id}/conversations/{conversation.id}"
        with sqlite3.connect(Path(sqlite_settings.DATA_DIR) / SqliteDocumentStore.FILE_NAME) as db:
            db.execute("UPDATE documents SET body = ? WHERE key = ?", (corrupt_body, key))
        failed = await conversation.say("123456")
        assert texts(failed) == [replies.TURN_FAILED.text]
        # Only the Emulator also gets a trace for the developer; no stack trace reaches anyone.
        assert [a["type"] for a in failed] == sent
        assert "Traceback" not in json.dumps(failed)
        assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]


async def test_health(sqlite_settings: Settings) -> None:
    async with serve_bot(sqlite_settings) as bot_url, aiohttp.ClientSession() as http:
        health_url = bot_url.replace("/api/messages", "/healthz")
        async with http.get(health_url) as response:
            assert (response.status, await response.json()) == (
                200,
                {"status": "ok", "storage": "ok"},
            )
        # The state file is destroyed under the running bot.
        state_file = Path(sqlite_settings.DATA_DIR) / SqliteDocumentStore.FILE_NAME
        for path in state_file.parent.glob(f"{SqliteDocumentStore.FILE_NAME}*"):
            path.write_bytes(b"garbage" * 1000)
        async with http.get(health_url) as response:
            assert response.status == 503
            assert (await response.json())["storage"] == "unreachable"


async def test_a_hanging_channel_connector_does_not_hang_the_bot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adapter, "CONNECTOR_TIMEOUT", 0.5)

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    dead_connector = web.Application()
    dead_connector.router.add_route("*", "/{tail:.*}", hang)
    async with (
        serve(dead_connector) as dead_url,
        serve_bot(make_settings()) as bot_url,
        LocalChannel(bot_url) as channel,
    ):
        stuck = channel.conversation()
        activity = {**stuck.activity(type="message", text="hello"), "serviceUrl": dead_url}
        started = time.monotonic()
        response = await channel.post(activity)
        assert response.status < 500
        assert time.monotonic() - started < 10  # not botbuilder's 100 s a call
        # Other customers are still served.
        assert texts(await channel.conversation().say("hello")) == [replies.WELCOME.text]


async def test_with_an_app_id_an_unauthenticated_request_is_refused() -> None:
    settings = make_settings(MicrosoftAppId="app-id", MicrosoftAppPassword="secret")
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation()
        response = await channel.post(conversation.activity(type="message", text="123456"))
        assert response.status == 401
        assert channel.received(conversation.id) == []


async def test_teams_install_then_join_welcomes_once() -> None:
    async with serve_bot(make_settings()) as bot_url, LocalChannel(bot_url, "msteams") as teams:
        conversation = teams.conversation()
        installed = await conversation.send(type="installationUpdate", action="add")
        joined = await conversation.join()
        assert texts(installed) == [replies.WELCOME.text]
        assert texts(joined) == []  # the same member, already welcomed


async def test_teams_tenants_outside_the_allow_list_get_nothing() -> None:
    settings = make_settings(TEAMS_ALLOWED_TENANTS=f"{TEAMS_TENANT}, another-tenant")
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url, "msteams") as teams:
        allowed = teams.conversation()
        assert texts(await allowed.say("where is order 123456")) == [STATUS_123456]
        stranger = teams.conversation()
        activity = stranger.activity(type="message", text="where is order 123456")
        activity["channelData"] = {"tenant": {"id": "some-other-tenant"}}
        activity["conversation"]["tenantId"] = "some-other-tenant"
        response = await teams.post(activity)
        assert response.status < 300
        assert teams.received(stranger.id) == []


async def test_a_redirecting_order_system_never_hands_the_key_to_another_host() -> None:
    keys_seen_elsewhere: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        keys_seen_elsewhere.append(request.headers.get("X-API-Key"))
        return web.json_response({"orderNumber": "123456", "status": "Call 555-0100 now"})

    async with order_system(elsewhere) as other_host:

        async def redirecting(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{other_host}/orders/{request.match_info['order_number']}")

        async with order_system(redirecting) as orders_url:
            settings = make_settings(ORDER_API_URL=orders_url, ORDER_API_KEY="order-api-key")
            async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
                answer = await channel.conversation().say("where is order 123456?")
    assert texts(answer) == [replies.ORDER_SYSTEM_DOWN.text]
    assert keys_seen_elsewhere == []


@pytest.mark.parametrize("answer", ["50 MB", "long status", "long number"])
async def test_an_oversized_order_answer_is_an_apology_not_a_reply(answer: str) -> None:
    async def orders(request: web.Request) -> web.StreamResponse:
        if answer == "50 MB":  # streamed without a length, as a hostile server would
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"orderNumber": "123456", "status": "')
            for _ in range(50):
                await response.write(b"x" * 1024 * 1024)
            await response.write(b'"}')
            return response
        if answer == "long status":
            return web.json_response({"orderNumber": "123456", "status": "Shipped " * 100})
        return web.json_response({"orderNumber": "1" * 5000, "status": "Shipped"})

    async with order_system(orders) as orders_url:
        settings = make_settings(ORDER_API_URL=orders_url)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            said = texts(await channel.conversation().say("where is order 123456?"))
    assert said == [replies.ORDER_SYSTEM_DOWN.text]


@pytest.mark.parametrize(
    ("channel_id", "channel_data"),
    [
        ("msteams", {"tenant": "contoso"}),
        ("msteams", {"tenant": ["contoso"]}),
        ("msteams", {"tenant": {"id": {"nested": True}}}),
        ("facebook", {"message": "hello"}),
        ("facebook", {"message": ["hello"], "postback": "x"}),
        ("webchat", "just text"),
    ],
)
async def test_channel_data_of_the_wrong_shape_gets_a_normal_answer(
    channel_id: str, channel_data: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve_bot(make_settings()) as bot_url, LocalChannel(bot_url, channel_id) as channel:
        said = texts(
            await channel.conversation().say("where is order 123456", channelData=channel_data)
        )
    assert said == [STATUS_123456]
    assert "Traceback" not in caplog.text and not [
        r for r in caplog.records if r.levelname == "ERROR"
    ]


async def test_the_memory_store_lets_go_of_what_has_expired() -> None:
    settings = make_settings(CONVERSATION_STATE_TTL=1, CUSTOMER_STATE_TTL=1)
    async with (
        serve_bot_parts(settings) as (bot_url, parts),
        LocalChannel(bot_url) as channel,
    ):
        for _ in range(20):
            await channel.conversation().say("where is order 123456")
        documents = parts.documents
        assert isinstance(documents, MemoryDocumentStore)
        customers_held = [key for key in documents._entries if key.startswith("customers/")]
        assert len(customers_held) == 20
        await asyncio.sleep(1.1)
        # Enough turns to pass one sweep's worth of writes.
        conversation = channel.conversation()
        writes = documents._writes_since_sweep
        while documents._writes_since_sweep >= writes:  # until the count starts again
            writes = documents._writes_since_sweep
            await conversation.say("hi")
        now = time.time()
        assert all(entry.live(now) for entry in documents._entries.values())
        assert not set(customers_held) & set(documents._entries)
