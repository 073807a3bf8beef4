"""Talking to a person, over HTTP: a customer on Web Chat (or Messenger), agents in a Teams
channel, each on a stand-in connector, the real bot between them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from botbuilder.schema import Activity, Transcript

from app import BotParts
from channels import replies
from config import Settings
from handoff.cases import CaseState
from state.wire import from_json
from tests.conftest import MovableClock, make_settings, serve, serve_bot_parts, texts
from tools.local_channel import ChannelUser, Conversation, LocalChannel, TeamsChannelThread

AGENTS_CHANNEL = "19:agents@thread.tacv2"
TEAM_ID = "19:support-team@thread.tacv2"
ANA = ChannelUser("29:ana", "Ana")
BEN = ChannelUser("29:ben", "Ben")
STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


def handoff_settings(**values: object) -> Settings:
    return make_settings(**{"HANDOFF_TEAM_ID": TEAM_ID, **values})


@dataclass
class Desk:
    """The agents' channel on the Teams stand-in."""

    teams: LocalChannel

    def as_agent(self, agent: ChannelUser) -> TeamsChannelThread:
        return self.teams.channel_thread(agent, AGENTS_CHANNEL, TEAM_ID)

    def cards(self) -> list[dict]:
        """Each case's card as posted (newest last)."""
        return [a for a in self.teams.received(AGENTS_CHANNEL) if a.get("attachments")]

    def latest_card(self, card_id: str) -> dict:
        """The card as it now stands (posted, then updated in place)."""
        versions = [a for a in self.teams.received(AGENTS_CHANNEL) if a.get("id") == card_id]
        versions += [a for a in self.thread_activity(card_id) if a.get("updated")]
        return versions[-1]["attachments"][0]["content"]

    def thread_activity(self, card_id: str) -> list[dict]:
        return self.teams.received(f"{AGENTS_CHANNEL};messageid={card_id}")

    def thread_texts(self, card_id: str) -> list[str]:
        return [a["text"] for a in self.thread_activity(card_id) if a.get("text")]


@asynccontextmanager
async def bot_desk_and_web(
    settings: Settings, clock: MovableClock | None = None
) -> AsyncIterator[tuple[BotParts, Desk, LocalChannel]]:
    clock = clock or MovableClock()
    async with (
        serve_bot_parts(settings, clock) as (url, parts),
        LocalChannel(url, "msteams") as teams,
        LocalChannel(url, "webchat") as webchat,
    ):
        yield parts, Desk(teams), webchat


async def open_desk(desk: Desk) -> None:
    answer = await desk.as_agent(ANA).say("/desk here")
    assert "now receives customers" in texts(answer)[0]


def card_id_of(desk: Desk, index: int = -1) -> str:
    return desk.cards()[index]["id"]


def case_id_of(card: dict) -> str:
    return card["actions"][0]["data"]["case"]


async def take(desk: Desk, agent: ChannelUser, card_id: str) -> list[dict]:
    posted = next(c for c in desk.cards() if c["id"] == card_id)
    case_id = case_id_of(posted["attachments"][0]["content"])
    thread = desk.as_agent(agent).thread(card_id)
    return await thread.say(value={"handoffAction": "take", "case": case_id})


async def with_ana(
    desk: Desk, webchat: LocalChannel
) -> tuple[Conversation, str, TeamsChannelThread]:
    """The desk set up, a new customer asking for a person and Ana taking the case: the
    customer, the case's card id and Ana in its thread."""
    await open_desk(desk)
    customer = webchat.conversation()
    await customer.say("agent")
    card_id = card_id_of(desk)
    await take(desk, ANA, card_id)
    return customer, card_id, desk.as_agent(ANA).thread(card_id)


def new_to(channel: LocalChannel, conversation: Conversation, before: int) -> list[dict]:
    return channel.received(conversation.id)[before:]


async def test_a_customer_and_an_agent_talk_through_the_bot_and_the_bot_takes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with bot_desk_and_web(handoff_settings()) as (parts, desk, webchat):
        await open_desk(desk)
        customer = webchat.conversation(ChannelUser("web-1", "Sam"))
        await customer.say("where is order 123456?")
        asked = await customer.say("I want to talk to a person")
        assert texts(asked) == [replies.queued(1, 3).text]

        # The card: who, why, what the bot knows, the recent messages, and "Take it".
        card = desk.latest_card(card_id := card_id_of(desk))
        shown = json.dumps(card)
        assert "Sam on Web Chat" in shown and "Asked for a person" in shown
        assert "123456: out for delivery" in shown
        assert "where is order 123456?" in shown and STATUS_123456 in shown
        assert "I want to talk to a person" in shown
        assert card["actions"][0]["title"] == "Take it"

        # Waiting, the customer keeps typing: it reaches the agents, the bot stays quiet.
        assert await customer.say("it's for my daughter's birthday") == []
        assert desk.thread_texts(card_id) == ["**Sam:** it's for my daughter's birthday"]

        before = len(webchat.received(customer.id))
        await take(desk, ANA, card_id)
        assert texts(new_to(webchat, customer, before)) == [replies.agent_joined("Ana").text]
        assert "Ana has it" in json.dumps(desk.latest_card(card_id))

        # Both ways, each on its own conversation; typing too.
        thread = desk.as_agent(ANA).thread(card_id)
        before = len(webchat.received(customer.id))
        await thread.say("Hi Sam, I'm Ana. Let me check with the courier.")
        await thread.send(type="typing")
        sent = new_to(webchat, customer, before)
        assert [a["type"] for a in sent] == ["message", "typing"]
        assert sent[0]["text"] == "Hi Sam, I'm Ana. Let me check with the courier."
        await customer.send(type="typing")
        assert desk.thread_activity(card_id)[-1]["type"] == "typing"

        # The bot does not answer while the agent has the case, even a question it knows.
        assert await customer.say("where is order 123456?") == []
        assert desk.thread_texts(card_id)[-1] == "**Sam:** where is order 123456?"

        before = len(webchat.received(customer.id))
        await thread.say(value={"handoffAction": "end", "case": case_id_of(card)})
        assert texts(new_to(webchat, customer, before)) == [replies.agent_left("Ana").text]
        assert "Ended by Ana" in json.dumps(desk.latest_card(card_id))

        assert texts(await customer.say("yes")) == [replies.ask_rating("Ana").text]
        assert texts(await customer.say("4")) == [replies.THANKS_FOR_RATING.text]
        assert texts(await customer.say("where is order 123456?")) == [STATUS_123456]
        case = await parts.handoff.get(case_id_of(card))
        assert case is not None and (case.state, case.solved) == (CaseState.ENDED, True)
        assert case.wait_seconds is not None and case.handling_seconds is not None
        # Each step is on the case's record for the analytics; the logs carry no words.
        assert [e.name for e in case.events] == ["requested", "taken", "ended", "solved", "rated"]
        assert case.rating == 4
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert f"case {case.id} taken after" in logged
        for words in ("daughter's birthday", "Let me check with the courier"):
            assert words not in logged


async def test_two_agents_take_the_same_case_at_once_and_one_gets_it() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        await open_desk(desk)
        customer = webchat.conversation()
        await customer.say("agent")
        card_id = card_id_of(desk)
        before = len(webchat.received(customer.id))
        answers = await asyncio.gather(take(desk, ANA, card_id), take(desk, BEN, card_id))
        told = sorted(t for answer in answers for t in texts(answer))
        assert told in (["Ana already has this case."], ["Ben already has this case."])
        joined = texts(new_to(webchat, customer, before))
        assert len(joined) == 1 and joined[0].endswith("from our team has joined the conversation.")


async def test_three_customers_wait_in_order_and_move_up() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        await open_desk(desk)
        customers = [webchat.conversation() for _ in range(3)]
        for position, customer in enumerate(customers, start=1):
            assert texts(await customer.say("talk to a human")) == [
                replies.queued(position, 3 * position).text
            ]
        before = [len(webchat.received(c.id)) for c in customers]
        await take(desk, ANA, card_id_of(desk, 0))
        assert texts(new_to(webchat, customers[1], before[1])) == [replies.moved_up(1).text]
        assert texts(new_to(webchat, customers[2], before[2])) == [replies.moved_up(2).text]
        queue = texts(await desk.as_agent(BEN).say("/queue"))[0]
        assert queue.count("waiting") == 2


async def test_cancel_while_waiting_withdraws_the_request() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        await open_desk(desk)
        customer = webchat.conversation()
        await customer.say("agent please")
        assert texts(await customer.say("never mind")) == [replies.STOPPED_WAITING.text]
        assert "stopped waiting" in json.dumps(desk.latest_card(card_id_of(desk)))
        assert texts(await desk.as_agent(ANA).say("/queue")) == ["Nobody is waiting."]
        assert texts(await customer.say("where is order 123456?")) == [STATUS_123456]


@asynccontextmanager
async def ticketing_system() -> AsyncIterator[tuple[str, list[tuple[dict, bytes]]]]:
    """A stand-in ticketing system: records each request's headers and raw body."""
    received: list[tuple[dict, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.json_response({"id": "T-1"}, status=201)

    app = web.Application()
    app.router.add_post("/hooks/bot", hook)
    async with serve(app) as base_url:
        yield f"{base_url}/hooks/bot", received


async def leave_a_note(customer: Conversation, contact: str, note: str) -> str:
    """Walks the note; returns the ticket reference the customer is given."""
    assert texts(await customer.say(replies.LEAVE_A_NOTE))[0].startswith(
        "How should our team contact you?"
    )
    assert texts(await customer.say(contact)) == [replies.ASK_NOTE.text]
    answer = texts(await customer.say(note))[0]
    assert answer.startswith("Thanks. Your request is TK-")
    return answer.split("Your request is ")[1].split(":")[0]


async def test_outside_business_hours_a_note_becomes_a_signed_ticket() -> None:
    key = "ticket-signing-key"
    async with ticketing_system() as (url, received):
        # The tests' "now" is a Tuesday, 10:00 UTC: the team works weekends only here.
        settings = handoff_settings(
            HANDOFF_HOURS="sat-sun 10:00-16:00", HANDOFF_TIME_ZONE="Europe/Berlin",
            TICKET_WEBHOOK_URL=url, TICKET_WEBHOOK_SIGNING_KEY=key,
        )  # fmt: skip
        async with bot_desk_and_web(settings) as (parts, desk, webchat):
            await open_desk(desk)
            customer = webchat.conversation()
            offer = texts(await customer.say("I need to speak to someone"))
            assert offer == [replies.outside_hours(str(parts.handoff.hours)).text]
            assert "Sat 10:00-16:00" in offer[0] and "Europe/Berlin" in offer[0]
            reference = await leave_a_note(customer, "sam@example.com", "My router drops.")
            assert desk.cards() == []  # nobody was asked: nobody is there
            stored = await parts.tickets.get(reference)
            assert stored["contact"] == "sam@example.com"
    assert len(received) == 1
    headers, body = received[0]
    expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    assert headers["Idempotency-Key"] == reference
    ticket = json.loads(body)
    assert (ticket["reference"], ticket["note"], ticket["whyNoPerson"]) == (
        reference, "My router drops.", "closed",
    )  # fmt: skip


async def test_a_ticketing_system_that_is_down_still_leaves_the_customer_a_reference() -> None:
    async with bot_desk_and_web(handoff_settings(
        HANDOFF_HOURS="sat-sun 10:00-16:00", TICKET_WEBHOOK_URL="http://127.0.0.1:9/hooks",
        TICKET_WEBHOOK_SIGNING_KEY="k",
    )) as (parts, _, webchat):  # fmt: skip
        customer = webchat.conversation()
        await customer.say("agent")
        reference = await leave_a_note(customer, "+1 206 555 0100", "Call me please")
        stored = await parts.tickets.get(reference)
        assert stored["webhookDelivered"] is False and stored["contact"] == "+12065550100"


async def test_nobody_takes_the_case_in_time_agents_are_reminded_then_a_note_is_offered() -> None:
    clock = MovableClock()
    settings = handoff_settings(HANDOFF_REMIND_AFTER_SECONDS=180, HANDOFF_MAX_WAIT_SECONDS=600)
    async with bot_desk_and_web(settings, clock) as (parts, desk, webchat):
        await open_desk(desk)
        customer = webchat.conversation()
        await customer.say("agent")
        card_id = card_id_of(desk)
        clock.advance(timedelta(seconds=200))
        await parts.handoff.tick()
        await parts.handoff.tick()  # reminded once, not on every tick
        assert desk.thread_texts(card_id) == ["Still waiting after 3 minutes: who can take it?"]
        before = len(webchat.received(customer.id))
        clock.advance(timedelta(seconds=401))
        await parts.handoff.tick()
        assert texts(new_to(webchat, customer, before)) == [replies.NOBODY_FREE.text]
        assert "Nobody took it in time" in json.dumps(desk.latest_card(card_id))
        assert texts(await take(desk, ANA, card_id)) == ["This case is no longer waiting."]
        reference = await leave_a_note(customer, "sam@example.com", "Still no router")
        case = await parts.handoff.get(case_id_of(desk.cards()[-1]["attachments"][0]["content"]))
        assert case is not None
        assert [(e.name, e.detail) for e in case.events][1:] == [
            ("reminded", None), ("timedOut", None), ("ticket", reference),
        ]  # fmt: skip
        # "Forget me" deletes the case (its messages) and the ticket (contact details) too.
        await customer.say("delete my data")
        assert texts(await customer.say("yes")) == [replies.DATA_DELETED.text]
        assert await parts.handoff.get(case.id) is None
        assert await parts.tickets.get(reference) is None


async def test_a_restart_during_a_live_handoff_keeps_it_live(tmp_path: Path) -> None:
    settings = handoff_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    clock = MovableClock()
    async with LocalChannel("", "msteams") as teams, LocalChannel("", "webchat") as webchat:
        desk = Desk(teams)
        customer = webchat.conversation()
        async with serve_bot_parts(settings, clock) as (url, _):
            teams.bot_url = webchat.bot_url = url
            await open_desk(desk)
            await customer.say("agent")
            card_id = card_id_of(desk)
            await take(desk, ANA, card_id)
        async with serve_bot_parts(settings, clock) as (url, _):
            teams.bot_url = webchat.bot_url = url
            before = len(webchat.received(customer.id))
            await desk.as_agent(ANA).thread(card_id).say("Still here after the restart")
            assert texts(new_to(webchat, customer, before)) == ["Still here after the restart"]
            assert await customer.say("great") == []
            assert desk.thread_texts(card_id)[-1].endswith("great")


async def test_two_instances_one_for_the_customer_one_for_the_agent_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    settings = handoff_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    clock = MovableClock()
    async with (
        serve_bot_parts(settings, clock) as (customer_side, _),
        serve_bot_parts(settings, clock) as (agent_side, _),
        LocalChannel(agent_side, "msteams") as teams,
        LocalChannel(customer_side, "webchat") as webchat,
    ):
        desk = Desk(teams)
        customer, card_id, thread = await with_ana(desk, webchat)
        before = len(webchat.received(customer.id))
        await asyncio.gather(
            *(customer.say(f"customer {n}") for n in range(5)),
            *(thread.say(f"agent {n}") for n in range(5)),
        )
        to_customer = texts(new_to(webchat, customer, before))
        assert sorted(to_customer) == [f"agent {n}" for n in range(5)]
        to_agent = [t.split("** ")[1] for t in desk.thread_texts(card_id) if "customer " in t]
        assert sorted(to_agent) == [f"customer {n}" for n in range(5)]


async def test_on_messenger_after_24_hours_the_agents_reply_carries_the_human_agent_tag() -> None:
    clock = MovableClock()
    async with bot_desk_and_web(handoff_settings(), clock) as (_, desk, _web):
        messenger = LocalChannel(desk.teams.bot_url, "facebook")
        async with messenger:
            await open_desk(desk)
            customer = messenger.conversation()
            await customer.say("agent")
            card_id = card_id_of(desk)
            await take(desk, ANA, card_id)
            thread = desk.as_agent(ANA).thread(card_id)
            await thread.say("Within the day")
            clock.advance(timedelta(hours=25))
            await thread.say("A day later")
            within, later = [a for a in messenger.received(customer.id)
                             if a.get("text") in ("Within the day", "A day later")]  # fmt: skip
            assert "tag" not in (within.get("channelData") or {})
            assert later["channelData"] == {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


async def test_only_agents_can_set_up_the_desk_or_take_cases() -> None:
    async with bot_desk_and_web(handoff_settings()) as (parts, desk, webchat):
        stranger = desk.teams.channel_thread(ChannelUser("29:eve", "Eve"), AGENTS_CHANNEL,
                                             "19:another-team@thread.tacv2")  # fmt: skip
        refused = texts(await stranger.say("/desk here"))
        assert refused[0].startswith("Only the support team's agents can set up the desk")
        assert not await parts.teams_desk.ready()  # type: ignore[union-attr]
        await open_desk(desk)
        customer = webchat.conversation()
        await customer.say("agent")
        card_id = card_id_of(desk)
        case_id = case_id_of(desk.latest_card(card_id))
        answer = await stranger.thread(card_id).say(value={"handoffAction": "take",
                                                           "case": case_id})  # fmt: skip
        assert texts(answer) == ["Only the support team's agents can work cases here."]
        case = await parts.handoff.get(case_id)
        assert case is not None and case.state == CaseState.WAITING
        # A button naming another case than its thread's is refused.
        other = (
            await desk.as_agent(ANA)
            .thread(card_id)
            .say(value={"handoffAction": "take", "case": "0123456789abcdef"})
        )
        assert texts(other) == ["I can't find that case here."]


# --- HANDOFF_DESK=protocol: a contact center on the customer's own conversation ----------


def protocol_settings(**values: object) -> Settings:
    return make_settings(HANDOFF_DESK="protocol", **values)


async def request_from_contact_center(customer: Conversation, channel: LocalChannel) -> dict:
    await customer.say("where is order 123456?")
    asked = await customer.say("agent")
    events = [a for a in asked if a["type"] == "event"]
    assert len(events) == 1
    return events[0]


def status(state: str, message: str | None = None) -> dict:
    value = {"state": state, **({"message": message} if message else {})}
    return {"type": "event", "name": "handoff.status", "value": value}


async def test_handoff_initiate_has_the_documented_shape() -> None:
    async with (
        serve_bot_parts(protocol_settings(), MovableClock()) as (url, _),
        LocalChannel(url, "directline") as channel,
    ):
        customer = channel.conversation(ChannelUser("dl-1", "Sam"))
        event = await request_from_contact_center(customer, channel)
    # The Bot Framework hand-off protocol: an event named handoff.initiate on the
    # customer's conversation, context in value, the transcript as an attachment.
    activity = from_json(Activity, event)
    assert (activity.type, activity.name) == ("event", "handoff.initiate")
    assert activity.conversation.id == customer.id
    assert activity.recipient.id == "dl-1"
    assert isinstance(event["value"], dict)
    assert event["value"]["reason"] == "asked" and event["value"]["customerName"] == "Sam"
    assert {"name": "Last order", "value": "123456: out for delivery"} in event["value"]["facts"]
    (attachment,) = event["attachments"]
    assert (attachment["contentType"], attachment["name"]) == ("application/json", "Transcript")
    transcript = from_json(Transcript, attachment["content"])
    lines = [(a.type, a.from_property.role, a.text) for a in transcript.activities]
    assert lines == [
        ("message", "user", "where is order 123456?"),
        ("message", "bot", STATUS_123456),
        ("message", "user", "agent"),
    ]


async def test_a_contact_center_accepts_then_completes_and_the_bot_takes_back() -> None:
    async with (
        serve_bot_parts(protocol_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "directline") as channel,
    ):
        customer = channel.conversation()
        await request_from_contact_center(customer, channel)
        assert await customer.send(**status("accepted", "Ana")) == []
        # The contact center has the conversation: the bot stays silent.
        assert await customer.say("where is order 123456?") == []
        waiting = await parts.handoff.waiting_cases()
        assert waiting == []
        answer = await customer.send(**status("completed"))
        assert texts(answer) == [replies.agent_left("Our team").text]
        assert texts(await customer.say("no")) == [replies.ask_rating("Ana").text]
        assert texts(await customer.say("2")) == [replies.SORRY_NOT_SOLVED.text]
        reference = await leave_a_note(customer, "sam@example.com", "Still late")
        ticket = await parts.tickets.get(reference)
        assert ticket is not None and ticket["whyNoPerson"] == "notSolved"
        assert texts(await customer.say("where is order 123456?")) == [STATUS_123456]
        # Asking again in the same conversation opens a new case the contact center
        # answers on that conversation.
        first_case = (await parts.handoff.case_for_thread(customer.id)).id
        again = [a for a in await customer.say("agent") if a["type"] == "event"]
        assert [a["name"] for a in again] == ["handoff.initiate"]
        assert again[0]["value"]["caseId"] != first_case
        assert await customer.send(**status("accepted", "Ben")) == []
        case = await parts.handoff.case_for_thread(customer.id)
        assert case.id == again[0]["value"]["caseId"] and case.agent.name == "Ben"


async def test_a_contact_center_that_fails_leads_to_a_note() -> None:
    async with (
        serve_bot_parts(protocol_settings(), MovableClock()) as (url, _),
        LocalChannel(url, "directline") as channel,
    ):
        customer = channel.conversation()
        await request_from_contact_center(customer, channel)
        answer = await customer.send(**status("failed"))
        assert texts(answer) == [replies.TEAM_UNREACHABLE.text]
        await leave_a_note(customer, "sam@example.com", "Please call")


async def test_a_handoff_status_with_no_case_or_a_made_up_state_changes_nothing() -> None:
    async with (
        serve_bot_parts(protocol_settings(), MovableClock()) as (url, parts),
        LocalChannel(url, "directline") as channel,
    ):
        stranger = channel.conversation()
        assert await stranger.send(**status("completed")) == []
        assert texts(await stranger.say("where is order 123456?")) == [STATUS_123456]
        customer = channel.conversation()
        await request_from_contact_center(customer, channel)
        assert await customer.send(**status("teleported")) == []
        assert await customer.send(type="event", name="handoff.status", value="accepted") == []
        ((_, case),) = await parts.handoff.waiting_cases()
        assert case.state == CaseState.WAITING


async def test_an_agent_whose_click_carries_no_entra_id_is_still_the_same_agent() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        await open_desk(desk)
        customer = webchat.conversation()
        await customer.say("agent")
        card_id = card_id_of(desk)
        thread = desk.as_agent(ANA).thread(card_id)
        case_id = case_id_of(desk.cards()[-1]["attachments"][0]["content"])
        # Some clients send a card's click with the user's channel id only.
        click = {"id": ANA.id, "name": ANA.name}
        await thread.send(type="message", value={"handoffAction": "take", "case": case_id},
                          **{"from": click})  # fmt: skip
        before = len(webchat.received(customer.id))
        assert await thread.say("Hello from Ana") == []
        assert texts(new_to(webchat, customer, before)) == ["Hello from Ana"]


async def test_a_case_where_nobody_writes_for_half_an_hour_goes_back_to_the_bot() -> None:
    clock = MovableClock()
    async with bot_desk_and_web(handoff_settings(), clock) as (parts, desk, webchat):
        customer, card_id, _ = await with_ana(desk, webchat)
        clock.advance(timedelta(minutes=20))
        await customer.say("are you still there?")
        clock.advance(timedelta(minutes=29))
        await parts.handoff.tick()  # 29 minutes since the last message: still live
        assert await customer.say("hello?") == []
        clock.advance(timedelta(minutes=31))
        before = len(webchat.received(customer.id))
        await parts.handoff.tick()
        assert texts(new_to(webchat, customer, before)) == [replies.agent_left("Ana").text]
        assert "Ended by Ana" in json.dumps(desk.latest_card(card_id))
        answer = texts(await customer.say("where is order 123456?"))
        assert answer[0].startswith("Your order 123456 is out for delivery")


async def test_a_contact_center_that_accepts_at_once_is_heard() -> None:
    """The hub may answer before it has even acknowledged the bot's handoff.initiate."""
    async with serve_bot_parts(protocol_settings(), MovableClock()) as (url, parts):
        channel = LocalChannel(url, "directline")
        customer = channel.conversation()

        async def hub(request: web.Request) -> web.Response:
            activity = await request.json()
            if activity.get("name") == "handoff.initiate":
                # Accepted, and the bot has heard it, before the initiate is acknowledged.
                assert await customer.send(**status("accepted", "Ana")) == []
            return web.json_response({"id": uuid.uuid4().hex})

        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", hub)
        async with serve(app) as hub_url, channel:
            channel.service_url = hub_url
            await customer.say("agent")
            assert await parts.handoff.waiting_cases() == []
            case = await parts.handoff.case_for_thread(customer.id)
            assert case is not None and case.state == CaseState.WITH_AGENT


async def test_a_redelivered_message_is_relayed_once_and_a_huge_one_is_cut() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        customer, card_id, thread = await with_ana(desk, webchat)
        before = len(webchat.received(customer.id))
        # The channel delivers the agent's message, then delivers it again (a retry).
        activity = thread.activity(type="message", text="Only once, please")
        for _ in range(2):
            assert (await desk.teams.post(activity)).status == 201
        assert texts(new_to(webchat, customer, before)) == ["Only once, please"]
        again = customer.activity(type="message", text="Me too")
        for _ in range(2):
            assert (await webchat.post(again)).status == 201
        assert desk.thread_texts(card_id).count("**Customer:** Me too") == 1
        # 200 KB pasted: the agent gets the start of it, within what a Teams message holds.
        await customer.say("x" * 200_000)
        relayed = desk.thread_texts(card_id)[-1]
        assert len(relayed) < 4100 and relayed.endswith("(message cut)")


async def test_files_go_both_ways_as_links() -> None:
    async with bot_desk_and_web(handoff_settings()) as (_, desk, webchat):
        customer, card_id, _ = await with_ana(desk, webchat)
        photo = {"contentType": "image/png", "name": "router.png",
                 "contentUrl": "https://files.example.com/router.png"}  # fmt: skip
        assert await customer.say(attachments=[photo]) == []
        assert desk.thread_texts(card_id)[-1] == (
            "**Customer:** router.png: https://files.example.com/router.png"
        )
        manual = {"contentType": "application/pdf", "name": "manual.pdf",
                  "contentUrl": "https://files.example.com/manual.pdf"}  # fmt: skip
        before = len(webchat.received(customer.id))
        await desk.as_agent(ANA).thread(card_id).say("Here you go", attachments=[manual])
        assert texts(new_to(webchat, customer, before)) == [
            "Here you go\nmanual.pdf: https://files.example.com/manual.pdf"
        ]


async def test_from_a_restricted_channel_a_case_keeps_no_words_and_no_name() -> None:
    settings = handoff_settings(RESTRICTED_CHANNELS="facebook")
    async with (
        bot_desk_and_web(settings) as (parts, desk, _web),
        LocalChannel(desk.teams.bot_url, "facebook") as messenger,
    ):
        customer, card_id, thread = await with_ana(desk, messenger)
        await customer.say("my address is 1 Secret Lane")
        await thread.say("Thanks, noted")
        # The agents saw the words in their channel ...
        assert desk.thread_texts(card_id)[-1].endswith("my address is 1 Secret Lane")
        case = await parts.handoff.case_for_thread(thread.id)
        assert case is not None
    # ... and the bot's store kept none of them, nor the name.
    stored = json.dumps(case.to_json())
    assert "Secret Lane" not in stored and "Thanks, noted" not in stored
    assert case.customer_name is None and case.transcript == []
    assert case.last_message_at is not None
