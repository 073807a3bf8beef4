"""Analytics over HTTP: scripted conversations produce exactly the expected events."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import aiohttp
import pytest

from analytics.events import EventName
from channels import replies
from nlu.review import ReviewQueue
from state.documents import StorageUnavailable
from tests.conftest import NOW, MovableClock, make_settings, serve_bot_parts, stored_customer, texts
from tests.protocol.test_handoff import bot_desk_and_web, handoff_settings, with_ana
from tools.local_channel import ChannelUser, Conversation, LocalChannel

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
    # Each step of the task's dialog reached, for the funnel.
    steps = [e.props["step"] for e in events if e.name == E.TASK_STEP]
    assert steps == ["offer_recent_order", "ask_order_number", "look_up"]
    assert [(e.name, e.task) for e in events if e.name != E.TASK_STEP] == [
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
        customer, _, thread = await with_ana(desk, webchat)
        clock.advance(timedelta(minutes=5))
        await thread.say("/end")
        await customer.say("yes")
        await customer.say("4")
        await parts.events.flush()
        events = sorted(await parts.events.read(TODAY, TODAY), key=lambda e: e.at)
    assert [e.name for e in events] == [
        E.SESSION_STARTED, E.INTENT_RECOGNIZED, E.HANDOFF_REQUESTED, E.HANDOFF_TAKEN,
        E.HANDOFF_ENDED, E.SATISFACTION,
    ]  # fmt: skip
    assert events[-1].props == {"score": 4}
    assert events[2].props == {"reason": "asked"}
    assert events[3].props == {"waitSeconds": 0.0}
    assert events[4].props == {"seconds": 300.0}
    # The agent's side is recorded under the customer's conversation and analytics id.
    assert len({(e.customer, e.conversation, e.channel) for e in events}) == 1


async def answered(channel: LocalChannel) -> tuple[Conversation, list[dict]]:
    customer = channel.conversation()
    return customer, await customer.say("where is order 123456?")


async def feedback_events(parts) -> list:
    await parts.events.flush()
    return [e for e in await parts.events.read(TODAY, TODAY) if e.name == E.FEEDBACK]


async def test_an_answer_asks_whether_it_helped_once_and_yes_is_recorded() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        customer, answer = await answered(webchat)
        offered = [a["title"] for a in answer[-1]["suggestedActions"]["actions"]]
        assert offered == [replies.KEEP_ME_POSTED, replies.HELPFUL, replies.NOT_HELPFUL]
        assert texts(await customer.say(replies.HELPFUL)) == [replies.THANKS_FOR_FEEDBACK.text]
        # Asked once: "Helpful" again is just a message now.
        assert texts(await customer.say(replies.HELPFUL)) != [replies.THANKS_FOR_FEEDBACK.text]
        (event,) = await feedback_events(parts)
    assert (event.task, event.props) == ("orderStatus", {"helpful": True})


async def test_not_helpful_offers_a_person_or_a_reason_kept_masked_for_review() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        customer, _ = await answered(webchat)
        assert texts(await customer.say(replies.NOT_HELPFUL)) == [replies.SORRY_NOT_HELPFUL.text]
        assert texts(await customer.say("the date is wrong, call me on 0207 946 0103")) == [
            replies.FEEDBACK_NOTED.text
        ]
        (event,) = await feedback_events(parts)
        review = await ReviewQueue(parts.documents, frozenset()).recent(NOW)
    assert event.props == {"helpful": False}
    assert [(r.reason, r.text) for r in review] == [
        ("notHelpful", "the date is wrong, call me on <phone>")
    ]


async def test_a_customer_who_moves_on_is_not_asked_again_and_nothing_is_recorded() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        customer, _ = await answered(webchat)
        assert texts(await customer.say("book a repair"))[0] != replies.THANKS_FOR_FEEDBACK.text
        assert await feedback_events(parts) == []


async def test_teams_feedback_buttons_are_answered_200_with_no_message_and_recorded() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "msteams") as teams,
    ):
        customer, answer = await answered(teams)
        assert answer[-1]["channelData"] == {"feedbackLoopEnabled": True}
        # Teams' own thumbs ask for the feedback; the buttons are only the follow-up.
        offered = [a["title"] for a in answer[-1]["suggestedActions"]["actions"]]
        assert offered == [replies.KEEP_ME_POSTED]
        before = len(teams.received(customer.id))
        click = customer.activity(type="invoke", name="message/submitAction", value={
            "actionName": "feedback",
            "actionValue": {"reaction": "dislike", "feedback": '{"feedbackText": "wrong"}'},
        })  # fmt: skip
        response = await teams.post(click)
        assert (response.status, response.content_length) == (200, 0)
        assert teams.received(customer.id)[before:] == []  # Teams thanks the user itself
        (event,) = await feedback_events(parts)
    assert (event.task, event.props, event.channel) == (
        "orderStatus", {"helpful": False}, "msteams",
    )  # fmt: skip


async def test_messenger_offers_the_feedback_as_quick_replies() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, _),
        LocalChannel(url, "facebook") as messenger,
    ):
        _, answer = await answered(messenger)
    titles = [a["title"] for a in answer[-1]["suggestedActions"]["actions"]]
    assert titles == [replies.KEEP_ME_POSTED, replies.HELPFUL, replies.NOT_HELPFUL]


async def test_the_metrics_api_answers_only_with_its_key_and_sane_dates() -> None:
    key = "analytics-key-0123456789"
    async with (
        serve_bot_parts(make_settings(ANALYTICS_API_KEY=key), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
        aiohttp.ClientSession() as http,
    ):
        customer, _ = await answered(webchat)
        await customer.say(replies.HELPFUL)
        await parts.events.flush()
        api = url.replace("/api/messages", "/api/analytics")

        async def get(query: str = "", **headers: str) -> tuple[int, dict]:
            async with http.get(f"{api}{query}", headers=headers) as response:
                return response.status, await response.json()

        assert (await get())[0] == 401
        assert (await get(**{"X-API-Key": key + "x"}))[0] == 401
        for query in (
            "?from=yesterday",
            "?from=2026-11-24T00:00",
            "?from=2026-13-01",
            "?from=2026-11-25&to=2026-11-24",
            "?from=2026-01-01&to=2026-11-24",
        ):
            assert (await get(query, **{"X-API-Key": key}))[0] == 400, query  # fmt: skip
        status, figures = await get("?from=2026-11-24&to=2026-11-24", **{"X-API-Key": key})
    assert status == 200
    assert (figures["sessions"], figures["resolved"], figures["helpfulRate"]) == (1, 1, 1.0)
    assert figures["tasks"]["orderStatus"]["completed"] == 1


async def test_without_a_key_setting_the_metrics_api_is_off() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, _),
        aiohttp.ClientSession() as http,
        http.get(
            url.replace("/api/messages", "/api/analytics"), headers={"X-API-Key": ""}
        ) as response,  # fmt: skip
    ):
        assert response.status == 404


async def test_with_the_event_store_down_every_turn_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):

        async def down(_: object) -> None:
            raise StorageUnavailable("the events container is down")

        monkeypatch.setattr(parts.events, "_write", down)
        customer = webchat.conversation()
        for _ in range(3):
            assert texts(await customer.say("where is order 123456?"))[0].startswith(
                "Your order 123456 is"
            )
        with pytest.raises(StorageUnavailable):
            await parts.events.flush()  # the writer task logs this and tries again later
        monkeypatch.undo()
        await parts.events.flush()
        events = await parts.events.read(TODAY, TODAY)
    assert sum(e.name == E.TASK_COMPLETED for e in events) == 3  # nothing lost meanwhile


async def test_forget_me_deletes_the_customers_events_and_no_one_elses() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
    ):
        other = webchat.conversation(ChannelUser("web-b", "Ben"))
        await other.say("where is order 123456?")
        leaving = webchat.conversation(ChannelUser("web-a", "Ana"))
        await leaving.say("where is order 123456?")
        await parts.events.flush()
        (_, context) = await stored_customer(parts.documents, "webchat", "web-a")
        await leaving.say("where is order 234567?")  # still in the buffer when forgotten
        await leaving.say("delete my data")
        assert texts(await leaving.say("yes")) == [replies.DATA_DELETED.text]
        for _ in range(100):  # the deletion runs in the background
            events = await parts.events.read(TODAY, TODAY)
            if all(e.customer != context["analyticsId"] for e in events):
                break
            await asyncio.sleep(0.05)
        await parts.events.flush()
        events = await parts.events.read(TODAY, TODAY)
    assert all(e.customer != context["analyticsId"] for e in events)
    assert sum(e.name == E.TASK_COMPLETED for e in events) == 1  # Ben's


async def test_three_channels_scripted_produce_exactly_their_events() -> None:
    clock = MovableClock()
    async with (
        bot_desk_and_web(handoff_settings(), clock) as (parts, desk, webchat),
        LocalChannel(desk.teams.bot_url, "facebook") as messenger,
    ):
        # Web chat: an order answered, found helpful.
        web = webchat.conversation()
        await web.say("where is order 123456?")
        await web.say(replies.HELPFUL)
        # Teams: an order answered, "that's not what I meant", then the thumbs down.
        teams = desk.teams.conversation()
        await teams.say("where is order 123456?")
        await teams.say("that's not what I meant")
        await desk.teams.post(teams.activity(type="invoke", name="message/submitAction", value={
            "actionName": "feedback", "actionValue": {"reaction": "dislike"}}))  # fmt: skip
        # Messenger: a person, rated 4; and an answer found not helpful.
        fb, _, thread = await with_ana(desk, messenger)
        await thread.say("/end")
        await fb.say("yes")
        await fb.say("4")
        await fb.say("where is order 123456?")
        await fb.say(replies.NOT_HELPFUL)
        await parts.events.flush()
        events = sorted(await parts.events.read(TODAY, TODAY), key=lambda e: e.at)
    by_channel = {
        channel: [(e.name.value, e.task, e.props.get("helpful", e.props.get("score")))
                  for e in events if e.channel == channel and e.name != E.TASK_STEP]
        for channel in ("webchat", "msteams", "facebook")
    }  # fmt: skip
    started = [
        ("sessionStarted", None, None), ("intentRecognized", None, None),
        ("taskStarted", "orderStatus", None), ("taskCompleted", "orderStatus", None),
    ]  # fmt: skip
    assert by_channel["webchat"] == [*started, ("feedback", "orderStatus", True)]
    assert by_channel["msteams"] == [
        *started, ("misunderstood", None, None), ("feedback", "orderStatus", False),
    ]  # fmt: skip
    assert by_channel["facebook"] == [
        ("sessionStarted", None, None), ("intentRecognized", None, None),
        ("handoffRequested", None, None), ("handoffTaken", None, None),
        ("handoffEnded", None, None), ("satisfaction", None, 4),
        ("intentRecognized", None, None), ("taskStarted", "orderStatus", None),
        ("taskCompleted", "orderStatus", None), ("feedback", "orderStatus", False),
    ]  # fmt: skip


async def test_a_teams_thumb_with_no_answer_pending_is_still_answered_200() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "msteams") as teams,
    ):
        customer = teams.conversation()
        await customer.say("hi")
        click = customer.activity(type="invoke", name="message/submitAction", value={
            "actionName": "feedback", "actionValue": {"reaction": "like"}})  # fmt: skip
        assert (await teams.post(click)).status == 200
        shape = {"actionName": "feedback", "actionValue": "nope"}
        odd = customer.activity(type="invoke", name="message/submitAction", value=shape)
        assert (await teams.post(odd)).status == 200  # not feedback's shape: ignored
        (event,) = await feedback_events(parts)
    assert (event.task, event.props) == (None, {"helpful": True})


async def test_on_sms_the_number_of_a_choice_answers_was_this_helpful() -> None:
    async with (
        serve_bot_parts(make_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "sms") as sms,
    ):
        customer, answer = await answered(sms)
        assert answer[-1]["text"].endswith("1. Keep me posted\n2. Helpful\n3. Not helpful")
        assert texts(await customer.say("3")) == [replies.SORRY_NOT_HELPFUL.text.split("\n")[0]
                                                  + "\n1. Talk to a person"]  # fmt: skip
        (event,) = await feedback_events(parts)
    assert event.props == {"helpful": False}
