"""Analytics over HTTP: scripted conversations produce exactly the expected events."""

from __future__ import annotations

from datetime import date, timedelta

from analytics.events import EventName
from tests.conftest import MovableClock, make_settings, serve_bot_parts, stored_customer
from tests.protocol.test_handoff import bot_desk_and_web, handoff_settings, with_ana
from tools.local_channel import ChannelUser, LocalChannel

E = EventName
TODAY = date(2026, 11, 24)


async def test_a_web_chat_conversation_produces_its_events() -> None:
    clock = MovableClock()
    async with (
        serve_bot_parts(make_settings(), clock) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        customer = webchat.conversation(ChannelUser("web-a", "Ana"))
        await customer.say("where is order 123456?")
        await customer.say("purple monkey dishwasher")
        await customer.say("that's not what I meant")
        await customer.say("cancel")
        await parts.events.flush()
        events = sorted(await parts.events.read(TODAY, TODAY), key=lambda e: e.at)
        _, context = await stored_customer(parts.documents, "webchat", "web-a")
    assert [(e.name, e.task) for e in events] == [
        (E.SESSION_STARTED, None),
        (E.INTENT_RECOGNIZED, None),
        (E.TASK_STARTED, "orderStatus"),
        (E.TASK_COMPLETED, "orderStatus"),
        (E.NOT_UNDERSTOOD, None),
        (E.MISUNDERSTOOD, None),
        (E.INTENT_RECOGNIZED, None),
    ]
    assert events[1].props["intent"] == "orderStatus"
    assert events[-1].props["intent"] == "cancel"
    # Pseudonymous: the customer's random analytics id, a hashed conversation, no words.
    assert {e.customer for e in events} == {context["analyticsId"]}
    assert len({e.conversation for e in events}) == 1
    assert customer.id not in events[0].conversation
    kept = str([e.to_json() for e in events])
    assert "123456" not in kept and "monkey" not in kept


async def test_a_session_starts_again_after_30_minutes_of_silence() -> None:
    clock = MovableClock()
    async with (
        serve_bot_parts(make_settings(), clock) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        customer = webchat.conversation()
        await customer.say("hi")
        clock.now = clock.now.replace(minute=29)
        await customer.say("hi")
        clock.now = clock.now.replace(minute=59, second=1)
        await customer.say("hi")
        await parts.events.flush()
        events = await parts.events.read(TODAY, TODAY)
    assert sum(e.name == E.SESSION_STARTED for e in events) == 2


async def test_a_hand_off_is_recorded_from_request_to_end() -> None:
    clock = MovableClock()
    async with bot_desk_and_web(handoff_settings(), clock) as (parts, desk, webchat):
        _, _, thread = await with_ana(desk, webchat)
        clock.advance(timedelta(minutes=5))
        await thread.say("/end")
        await parts.events.flush()
        events = sorted(await parts.events.read(TODAY, TODAY), key=lambda e: e.at)
    assert [e.name for e in events] == [
        E.SESSION_STARTED, E.INTENT_RECOGNIZED, E.HANDOFF_REQUESTED, E.HANDOFF_TAKEN,
        E.HANDOFF_ENDED,
    ]  # fmt: skip
    assert events[2].props == {"reason": "asked"}
    assert events[3].props == {"waitSeconds": 0.0}
    assert events[4].props == {"seconds": 300.0}
    # The agent's side is recorded under the customer's conversation and analytics id.
    assert len({(e.customer, e.conversation, e.channel) for e in events}) == 1
