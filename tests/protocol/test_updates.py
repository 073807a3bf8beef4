"""Telling customers first, over HTTP: the order system posts signed events to the real
bot, which sends updates through stand-in connectors for Web Chat, Teams and Messenger."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import jwt
import pytest

from app import BotParts
from channels import replies
from config import Settings
from notifications.web_api import MAX_EVENT_BYTES
from services.signatures import SIGNATURE_HEADER, signature
from tests.conftest import (
    NOW,
    MovableClock,
    make_settings,
    serve_bot_parts,
    stored_customer,
    texts,
)
from tests.protocol.test_channel_auth import APP_ID, auth_settings, key_server, token
from tests.protocol.test_one_customer import link_code
from tools.local_channel import TEAMS_TENANT, ChannelUser, Conversation, LocalChannel

KEY = "k" * 40
UPDATE = "Update on your order"
BOOKING = ["I need my laptop repaired", "Oxford Street", "tomorrow at 3pm",
           "Wed 25 Nov, 3:00 PM", "yes"]  # fmt: skip


def updates_settings(**values: object) -> Settings:
    return make_settings(ORDER_EVENTS_SIGNING_KEY=KEY, **values)


def order_event(order: str, status: str, at: datetime, eta: datetime | None = None) -> dict:
    return {"eventId": f"evt-{uuid.uuid4().hex[:12]}", "orderNumber": order, "status": status,
            "eta": eta.isoformat() if eta else None, "occurredAt": at.isoformat()}  # fmt: skip


async def post_event(
    base_url: str,
    body: bytes | dict,
    headers: dict | None = None,
    key: str = KEY,
    pieces: int = 1,
) -> tuple[int, dict]:
    """With `pieces`, the body goes chunked (no Content-Length) in that many writes with a
    pause between them, as it would over a slow network."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(raw, key)}
    sent.update(headers or {})
    sent = {name: value for name, value in sent.items() if value is not None}

    async def in_pieces() -> AsyncIterator[bytes]:
        step = -(-len(raw) // pieces)
        for start in range(0, len(raw), step):
            yield raw[start : start + step]
            await asyncio.sleep(0.02)

    data = raw if pieces == 1 else in_pieces()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}/api/order-events", data=data, headers=sent) as response,
    ):
        return response.status, await response.json(content_type=None)


def base_of(url: str) -> str:
    return url.removesuffix("/api/messages")


def updates_to(channel: LocalChannel, conversation: Conversation) -> list[dict]:
    return [a for a in channel.received(conversation.id)
            if (a.get("text") or "").startswith((UPDATE, "Reminder:"))]  # fmt: skip


async def sent_now(
    parts: BotParts, channel: LocalChannel, conversation: Conversation, expected: int
) -> list[dict]:
    """Lets the sender look at due updates, then the updates this conversation has (the
    sender also runs in the background: it may be the one that sends)."""
    await parts.update_sender.send_due()
    for _ in range(50):
        if len(updates_to(channel, conversation)) >= expected:
            break
        await asyncio.sleep(0.02)
    await parts.update_sender.send_due()  # nothing more goes out
    await asyncio.sleep(0.05)
    return updates_to(channel, conversation)


async def subscribed(customer: Conversation, order: str = "234567") -> None:
    answer = await customer.say(f"where is order {order}?")
    shown = json.dumps(answer)
    assert replies.OFFER_UPDATES in shown and replies.KEEP_ME_POSTED in shown
    assert [a["text"] for a in await customer.say("Keep me posted")] == [replies.SUBSCRIBED.text]


@asynccontextmanager
async def bot_on(
    settings: Settings, clock: MovableClock, channel_id: str
) -> AsyncIterator[tuple[BotParts, str, LocalChannel]]:
    async with (
        serve_bot_parts(settings, clock) as (url, parts),
        LocalChannel(url, channel_id) as channel,
    ):
        yield parts, base_of(url), channel


async def test_a_customer_who_asked_on_web_chat_is_told_when_the_order_changes_once() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "webchat") as (parts, base, webchat):
        customer = webchat.conversation(ChannelUser("web-sam", "Sam"))
        await subscribed(customer)
        clock.advance(timedelta(minutes=10))
        event = order_event("234567", "out for delivery", clock.now, eta=NOW + timedelta(hours=3))
        assert await post_event(base, event) == (202, {"status": "accepted"})

        (update,) = await sent_now(parts, webchat, customer, 1)
        assert update["text"] == (
            "Update on your order 234567: it's now out for delivery and expected by 1 PM "
            'today. (Say "stop updates" to stop these.)'
        )
        assert update["conversation"]["id"] == customer.id
        assert update["recipient"]["id"] == "web-sam"

        # The order system sends the same event again: accepted, not sent again.
        assert await post_event(base, event) == (200, {"status": "alreadyAccepted"})
        assert len(await sent_now(parts, webchat, customer, 2)) == 1

        # The customer's reply is about that order, without being asked which.
        answer = texts(await customer.say("when will it arrive?"))
        assert answer[0].startswith("Your order 234567 is")


async def test_stop_updates_stops_them() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "webchat") as (parts, base, webchat):
        customer = webchat.conversation()
        await subscribed(customer)
        stopped = [a["text"] for a in await customer.say("please stop sending me updates")]
        assert stopped == [replies.updates_stopped(["order 234567"]).text]
        assert await post_event(base, order_event("234567", "delivered", clock.now)) == (
            202, {"status": "accepted"},
        )  # fmt: skip
        assert await sent_now(parts, webchat, customer, 1) == []
        assert [a["text"] for a in await customer.say("stop updates")] == [
            replies.NO_UPDATES_TO_STOP.text
        ]


async def test_messenger_after_24_hours_uses_the_post_purchase_tag_and_not_before() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "facebook") as (parts, base, messenger):
        customer = messenger.conversation()
        await subscribed(customer)
        clock.advance(timedelta(hours=2))
        await post_event(base, order_event("234567", "in transit", clock.now))
        (inside,) = await sent_now(parts, messenger, customer, 1)
        assert inside["channelData"] == {"messaging_type": "UPDATE"}

        clock.advance(timedelta(hours=25))  # 27 hours after the customer's last message
        await post_event(base, order_event("234567", "out for delivery", clock.now))
        _, outside = await sent_now(parts, messenger, customer, 2)
    assert outside["channelData"] == {
        "messaging_type": "MESSAGE_TAG",
        "tag": "POST_PURCHASE_UPDATE",
    }


async def test_quiet_hours_in_the_customers_time_zone_hold_an_update_until_8() -> None:
    clock = MovableClock()  # 10:00 UTC: 19:00 in Tokyo
    async with bot_on(updates_settings(), clock, "msteams") as (parts, base, teams):
        customer = teams.conversation()
        await customer.say("hi", localTimezone="Asia/Tokyo")
        await subscribed(customer)
        clock.advance(timedelta(hours=3))  # 22:00 in Tokyo
        await post_event(base, order_event("234567", "out for delivery", clock.now))
        assert await sent_now(parts, teams, customer, 1) == []
        clock.now = datetime.fromisoformat("2026-11-24T22:59:00+00:00")  # 07:59 in Tokyo
        assert await sent_now(parts, teams, customer, 1) == []
        clock.now = datetime.fromisoformat("2026-11-24T23:00:00+00:00")  # 08:00 in Tokyo
        assert len(await sent_now(parts, teams, customer, 1)) == 1


async def test_a_connector_failing_three_times_then_answering_delivers_once() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "msteams") as (parts, base, teams):
        customer = teams.conversation()
        await subscribed(customer)
        teams.failures = [(503, None), (502, None), (500, None)]
        await post_event(base, order_event("234567", "out for delivery", clock.now))
        for _ in range(10):
            if await sent_now(parts, teams, customer, 1):
                break
            clock.advance(timedelta(minutes=5))
        tries = [a for _, a in teams.requests if a.get("text", "").startswith(UPDATE)]
        assert len(tries) == 4
        assert len(updates_to(teams, customer)) == 1


async def test_a_429_waits_for_retry_after() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "msteams") as (parts, base, teams):
        customer = teams.conversation()
        await subscribed(customer)
        teams.failures = [(429, 600)]
        await post_event(base, order_event("234567", "out for delivery", clock.now))
        assert await sent_now(parts, teams, customer, 1) == []
        clock.advance(timedelta(minutes=9))
        assert await sent_now(parts, teams, customer, 1) == []
        clock.advance(timedelta(minutes=2))
        assert len(await sent_now(parts, teams, customer, 1)) == 1


async def test_a_403_drops_that_channel_and_the_update_goes_to_the_next() -> None:
    clock = MovableClock()
    settings = updates_settings()
    async with (
        serve_bot_parts(settings, clock) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
        LocalChannel(url, "msteams") as teams,
    ):
        on_web = webchat.conversation(ChannelUser("web-jo", "Jo"))
        await subscribed(on_web)
        code = await link_code(on_web)
        clock.advance(timedelta(minutes=1))  # Teams is where Jo wrote last
        on_teams = teams.conversation(ChannelUser("29:jo", "Jo"))
        await on_teams.say(f"link {code}")
        teams.refused[on_teams.id] = 403  # Jo blocked the bot in Teams
        await post_event(base_of(url), order_event("234567", "out for delivery", clock.now))

        assert len(await sent_now(parts, webchat, on_web, 1)) == 1
        assert updates_to(teams, on_teams) == []
        _, context = await stored_customer(parts.documents, "webchat", "web-jo")
    assert [r["channelId"] for r in context["reach"].values()] == ["webchat"]


async def test_updates_left_unsent_are_sent_after_a_restart(tmp_path: Path) -> None:
    clock = MovableClock()
    settings = updates_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    async with LocalChannel("http://127.0.0.1:9/unused", "msteams") as teams:
        customer = teams.conversation()
        async with serve_bot_parts(settings, clock) as (url, parts):
            teams.bot_url = url
            await subscribed(customer)
            teams.failures = [(503, None)] * 3
            await post_event(base_of(url), order_event("234567", "shipped", clock.now))
            assert await sent_now(parts, teams, customer, 1) == []
        clock.advance(timedelta(minutes=30))
        async with serve_bot_parts(settings, clock) as (url, parts):
            teams.failures = []
            assert len(await sent_now(parts, teams, customer, 1)) == 1


async def test_two_instances_send_each_update_once(tmp_path: Path) -> None:
    clock = MovableClock()
    settings = updates_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    async with (
        serve_bot_parts(settings, clock) as (url_a, a),
        serve_bot_parts(settings, clock) as (url_b, b),
        LocalChannel(url_a, "msteams") as teams,
    ):
        customers = [teams.conversation() for _ in range(8)]
        for customer in customers:
            await subscribed(customer)
        event = order_event("234567", "out for delivery", clock.now)
        # The order system retries: the same event reaches both instances at once.
        answers = await asyncio.gather(
            *(post_event(base_of(url), event) for url in (url_a, url_b, url_a, url_b))
        )
        assert sorted(status for status, _ in answers).count(202) >= 1
        await asyncio.gather(*(p.update_sender.send_due() for p in (a, b, a, b)))
        for customer in customers:
            assert len(await sent_now(a, teams, customer, 1)) == 1


async def test_a_booking_is_reminded_the_day_before_and_its_choices_work() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "msteams") as (parts, _, teams):
        customer = teams.conversation()
        for line in BOOKING[:-1]:
            await customer.say(line)
        (booked,) = [a["text"] for a in await customer.say(BOOKING[-1])]
        assert booked.endswith(replies.REMINDER_NOTE)
        clock.now = datetime.fromisoformat("2026-11-24T14:59:00+00:00")
        assert await sent_now(parts, teams, customer, 1) == []
        clock.now = datetime.fromisoformat("2026-11-24T15:00:00+00:00")  # a day before
        (reminder,) = await sent_now(parts, teams, customer, 1)
        assert reminder["text"].startswith(
            "Reminder: your in-store repair at Oxford Street is on Wed 25 Nov, 3:00 PM"
        )
        offered = [a["title"] for a in reminder["suggestedActions"]["actions"]]
        assert offered == [replies.KEEP_IT, replies.MOVE_IT, replies.CANCEL_IT]

        moving = [a["text"] for a in await customer.say("Move it")]
        assert moving == [replies.ASK_WHEN.text]
        await customer.say("cancel")  # changed their mind: the appointment stays
        asked = [a["text"] for a in await customer.say("Cancel it")]
        assert asked == [replies.confirm_cancel("in-store repair", "Wed 25 Nov, 3:00 PM").text]
        (done,) = [a["text"] for a in await customer.say("yes")]
        assert done.startswith("Done: appointment AP-")


async def test_a_reminder_for_a_cancelled_appointment_is_not_sent() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "msteams") as (parts, _, teams):
        customer = teams.conversation()
        for line in BOOKING:
            await customer.say(line)
        await customer.say("cancel my appointment")
        await customer.say("yes")
        clock.now = datetime.fromisoformat("2026-11-24T15:00:00+00:00")
        assert await sent_now(parts, teams, customer, 1) == []


async def test_teams_proactive_message_carries_the_bots_app_id_and_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With auth on, an update to a personal chat goes to the stored conversation, from the
    bot's app, with a token issued for the bot's app id (Entra ID stands in here)."""
    from botframework.connector.auth import MicrosoftAppCredentials

    def issued(credentials: MicrosoftAppCredentials, force_refresh: bool = False) -> str:
        claims = {"aud": "https://api.botframework.com", "appid": credentials.microsoft_app_id}
        return jwt.encode(claims, "entra-id-stand-in-signing-key-32b", algorithm="HS256")

    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", issued)
    clock = MovableClock()
    async with key_server() as keys:
        settings = auth_settings(keys, ORDER_EVENTS_SIGNING_KEY=KEY)
        async with bot_on(settings, clock, "msteams") as (parts, base, teams):
            teams.authorization = lambda: f"Bearer {token(teams.service_url)}"
            customer = teams.conversation()
            await subscribed(customer)
            await post_event(base, order_event("234567", "out for delivery", clock.now))
            (update,) = await sent_now(parts, teams, customer, 1)
            (header,) = [h for h, a in teams.requests if a is update]
    scheme, _, bearer = header.partition(" ")
    assert scheme == "Bearer"
    assert jwt.decode(bearer, options={"verify_signature": False})["appid"] == APP_ID
    assert update["conversation"] == {"id": customer.id, "conversationType": "personal",
                                      "tenantId": TEAMS_TENANT}  # fmt: skip
    assert update["from"]["id"] == "customer-service-bot"


def _nested(depth: int) -> bytes:
    return ('{"eventId": ' + "[" * depth + "1" + "]" * depth + "}").encode()


BAD_REQUESTS = {
    # name: (body, headers, expected status)
    "no signature": (None, {SIGNATURE_HEADER: None}, 401),
    "signed with another key": (None, {"key": "another-key-" + "x" * 30}, 401),
    "signature without its prefix": (None, {"bare": True}, 401),
    "signature of another body": (None, {"other body": True}, 401),
    "six minutes old": ({"occurredAt": (NOW - timedelta(minutes=6)).isoformat()}, {}, 401),
    "six minutes ahead": ({"occurredAt": (NOW + timedelta(minutes=6)).isoformat()}, {}, 401),
    "not JSON": (b"order 123456 shipped", {}, 400),
    "a list": (b"[]", {}, 400),
    "no order number": ({"orderNumber": None}, {}, 400),
    "letters in the order number": ({"orderNumber": "12ab56"}, {}, 400),
    "a status over two lines": ({"status": "shipped\nclick http://x.example"}, {}, 400),
    "a time without its zone": ({"occurredAt": "2026-11-24T10:00:00"}, {}, 400),
    "a number for the status": ({"status": 7}, {}, 400),
    "nested ten thousand deep": (_nested(10_000), {}, 413),
    "nested a thousand deep": (_nested(1_000), {}, 400),
    "twenty kilobytes": ({"status": "x" * 20_000}, {}, 413),
    "not JSON content": (None, {"Content-Type": "text/plain"}, 415),
}


async def test_bad_events_are_refused_and_send_nothing() -> None:
    """What an attacker who read the README, or a broken order system, might send."""
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "webchat") as (parts, base, webchat):
        customer = webchat.conversation()
        await subscribed(customer)
        answers = {}
        for case, (change, headers, _) in BAD_REQUESTS.items():
            event = order_event("234567", "out for delivery", clock.now)
            body = change if isinstance(change, bytes) else {**event, **(change or {})}
            headers = dict(headers)
            key = headers.pop("key", KEY)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            if headers.pop("bare", False):
                headers[SIGNATURE_HEADER] = signature(raw, key).removeprefix("sha256=")
            if headers.pop("other body", False):
                headers[SIGNATURE_HEADER] = signature(raw + b" ", key)
            status, answer = await post_event(base, raw, headers, key)
            answers[case] = (status, "error" in answer)
        assert answers == {case: (status, True) for case, (_, _, status) in BAD_REQUESTS.items()}
        assert await sent_now(parts, webchat, customer, 1) == []
        assert await parts.outbox.pending() == 0


async def test_an_event_arriving_in_pieces_is_read_whole_and_one_too_long_is_refused() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "webchat") as (parts, base, webchat):
        customer = webchat.conversation()
        await subscribed(customer)
        # The same event padded to the most an event may be, then to one byte more.
        event = order_event("234567", "out for delivery", clock.now)
        raw = json.dumps(event).encode()
        padded = raw[:-1] + b" " * (MAX_EVENT_BYTES - len(raw)) + b"}"
        assert len(padded) == MAX_EVENT_BYTES
        assert await post_event(base, padded + b" ", pieces=4) == (
            413, {"error": f"an event may be at most {MAX_EVENT_BYTES} bytes"}
        )  # fmt: skip
        assert await post_event(base, padded, pieces=4) == (202, {"status": "accepted"})
        assert len(await sent_now(parts, webchat, customer, 1)) == 1


async def test_without_a_signing_key_the_route_is_off() -> None:
    async with bot_on(make_settings(), MovableClock(), "webchat") as (_, base, _):
        event = order_event("234567", "out for delivery", NOW)
        status, answer = await post_event(base, event)
    assert status == 404 and "ORDER_EVENTS_SIGNING_KEY" in answer["error"]


async def test_after_the_app_is_removed_in_teams_nothing_is_sent_there() -> None:
    clock = MovableClock()
    async with bot_on(updates_settings(), clock, "msteams") as (parts, base, teams):
        customer = teams.conversation()
        await subscribed(customer)
        await customer.send(type="installationUpdate", action="remove")
        await post_event(base, order_event("234567", "out for delivery", clock.now))
        assert await sent_now(parts, teams, customer, 1) == []
        await customer.send(type="installationUpdate", action="add")  # installed again
        clock.advance(timedelta(minutes=5))
        assert len(await sent_now(parts, teams, customer, 1)) == 1


async def test_make_bench_fan_out_delivers_every_update_once() -> None:
    """The fan-out scenario of `make bench`, small: the bot as its own process, a signed
    event for each customer's order, every update delivered."""
    from bench.fan_out import measure_fan_out

    result = await measure_fan_out("memory", customers=200)
    assert result.delivered == 200 and result.updates_per_second > 0
