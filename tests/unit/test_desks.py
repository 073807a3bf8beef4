"""The two agent desks as the hand-off core drives them: Teams (a card in the agents'
channel, its thread for the talk) and a contact center (the hand-off protocol's event)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from channels.reference import ConversationRef
from handoff.cases import Agent, Case, CaseState, Reason, TranscriptLine
from handoff.desk import DeskUnavailable
from handoff.protocol_desk import INITIATE, ProtocolDesk, initiate_event
from handoff.teams_desk import ACTION_FIELD, DESK_KEY, END, TAKE, TeamsDesk, card_message
from state.memory_store import MemoryDocumentStore
from tests.conftest import NOW, RecordingChannel, golden

AGENTS = ConversationRef(
    channel_id="msteams", service_url="http://teams", conversation_id="19:agents@thread.tacv2",
    tenant_id="tenant-1",
)  # fmt: skip
CUSTOMER = ConversationRef(
    channel_id="webchat", service_url="http://webchat", conversation_id="conv-ana",
    user_id="user-ana", user_name="Ana", bot_id="bot-1", bot_name="Help", locale="es-ES",
)  # fmt: skip


def a_case(**changes: object) -> Case:
    case = Case(
        id="c1", customer_id="cust-ana", customer_name="Ana", reason=Reason.FRUSTRATION,
        desk="teams", requested_at=NOW, customer=CUSTOMER,
        facts=[("Last order", "123456: shipped")],
        transcript=[
            TranscriptLine(sender="customer", text="where is it??", at=NOW),
            TranscriptLine(sender="bot", text="It's on its way.", at=NOW + timedelta(seconds=1)),
        ],
    )  # fmt: skip
    return case.model_copy(update=changes)


def card_of(message: dict) -> dict:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def status_of(case: Case, position: int | None = None) -> str:
    return card_of(card_message(case, position))["body"][1]["text"]


# --- Teams ---------------------------------------------------------------------------------


async def test_the_teams_desk_is_ready_once_an_agent_names_its_channel() -> None:
    documents = MemoryDocumentStore()
    desk = TeamsDesk(documents, RecordingChannel())
    assert not await desk.ready() and await desk.channel() is None
    with pytest.raises(
        DeskUnavailable, match=r"^no agents' channel: an agent sends /desk here in one$"
    ):
        await desk.open_case(a_case(), 1)
    await desk.register(AGENTS, by="agent-kim", at=NOW)
    assert await desk.ready() and await desk.channel() == AGENTS
    # Kept in the store, so every instance posts to the same channel.
    stored = (await documents.read([DESK_KEY]))[DESK_KEY].data
    assert stored == {"channel": AGENTS.to_json(), "registeredBy": "agent-kim",
                      "at": NOW.isoformat()}  # fmt: skip
    assert await TeamsDesk(documents, RecordingChannel()).channel() == AGENTS
    assert desk.answers_on(a_case()) is None  # the thread is known once the card is posted


async def test_a_case_becomes_a_card_whose_thread_is_where_the_agent_talks() -> None:
    channel = RecordingChannel()
    desk = TeamsDesk(MemoryDocumentStore(), channel)
    await desk.register(AGENTS, by="agent-kim", at=NOW)
    opened = await desk.open_case(a_case(), 3)
    [(posted_to, message)] = channel.sent
    assert posted_to == AGENTS.conversation_id and message == card_message(a_case(), 3)
    assert opened.desk_card_id == "activity-1"
    assert opened.desk_thread == AGENTS.model_copy(
        update={"conversation_id": "19:agents@thread.tacv2;messageid=activity-1"}
    )
    thread = opened.desk_thread.conversation_id

    await desk.customer_said(opened, "hello?")
    await desk.customer_typing(opened)
    await desk.remind(opened, 7)
    assert channel.sent[1:] == [
        (thread, {"type": "message", "text": "**Ana:** hello?", "textFormat": "markdown"}),
        (thread, {"type": "typing"}),
        (thread, {"type": "message", "textFormat": "markdown",
                  "text": "Still waiting after 7 minutes: who can take it?"}),
    ]  # fmt: skip
    taken = opened.model_copy(update={"state": CaseState.WITH_AGENT, "agent": Agent(
        id="agent-kim", name="Kim"), "taken_at": NOW})  # fmt: skip
    await desk.case_changed(taken)
    assert channel.updated == [(thread, "activity-1", card_message(taken))]
    nameless = opened.model_copy(update={"customer_name": None})
    await desk.customer_said(nameless, "hi")
    assert channel.sent[-1][1]["text"] == "**Customer:** hi"


async def test_a_card_teams_gave_no_id_is_refused_and_a_case_without_a_card_is_left_alone() -> None:
    class NoIds(RecordingChannel):
        async def send(self, to: ConversationRef, activity: dict) -> str:
            await super().send(to, activity)
            return ""

    channel = NoIds()
    desk = TeamsDesk(MemoryDocumentStore(), channel)
    await desk.register(AGENTS, by="agent-kim", at=NOW)
    with pytest.raises(
        DeskUnavailable, match=r"^Teams gave the card no id: its thread cannot be found$"
    ):
        await desk.open_case(a_case(), 1)
    posted = len(channel.sent)
    unposted = a_case()
    await desk.case_changed(unposted)
    await desk.customer_said(unposted, "hello?")
    await desk.customer_typing(unposted)
    await desk.remind(unposted, 5)
    threaded = a_case(desk_thread=AGENTS)  # a thread but no card id to update
    await desk.case_changed(threaded)
    assert len(channel.sent) == posted and channel.updated == []


def test_the_card_shows_who_why_what_is_known_and_what_was_said() -> None:
    message = card_message(a_case(), 2)
    assert message["type"] == "message" and message["summary"] == "Customer waiting: Ana on webchat"
    card = card_of(message)
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.5")
    title, status, facts, *transcript = card["body"]
    assert (title["text"], title["weight"], title["size"]) == ("Ana on webchat", "Bolder", "Medium")
    assert (status["text"], status["color"]) == ("Waiting (number 2 in the queue)", "Attention")
    assert facts["facts"] == [
        {"title": "Why", "value": "Sounded frustrated"},
        {"title": "Asked at", "value": "10:00 UTC"},
        {"title": "Last order", "value": "123456: shipped"},
    ]
    assert [block["text"] for block in transcript] == [
        "Recent messages", "**Customer:** where is it??", "**Bot:** It's on its way."]  # fmt: skip
    assert card["actions"] == [
        {"type": "Action.Submit", "title": "Take it", "data": {ACTION_FIELD: TAKE, "case": "c1"}}
    ]


def test_the_card_names_the_channel_from_the_facts_and_says_when_nothing_was_kept() -> None:
    case = a_case(customer_name=None, transcript=[], facts=[("Channel", "Messenger")])
    card = card_of(card_message(case))
    assert card["body"][0]["text"] == "A customer on Messenger"
    assert card["body"][1]["text"] == "Waiting"
    assert card["body"][-1]["text"] == "No earlier messages (none are kept from some channels)."
    assert card["body"][-1]["isSubtle"]
    agent_line = a_case(transcript=[TranscriptLine(sender="agent", text="Hi", at=NOW)])
    assert card_of(card_message(agent_line))["body"][-1]["text"] == "**Agent:** Hi"
    for reason, why in [
        (Reason.ASKED, "Asked for a person"),
        (Reason.FAILED_TRIES, "The bot could not help after several tries"),
        (Reason.TROUBLESHOOTING_DEAD_END, "Troubleshooting did not fix it"),
    ]:
        assert card_of(card_message(a_case(reason=reason)))["body"][2]["facts"][0]["value"] == why


def test_the_card_follows_the_case_to_its_end() -> None:
    kim = Agent(id="agent-kim", name="Kim")
    taken_at = NOW + timedelta(minutes=5)
    taken = a_case(state=CaseState.WITH_AGENT, agent=kim, taken_at=taken_at)
    assert status_of(taken) == "Kim has it since 10:05 UTC"
    card = card_of(card_message(taken))
    assert card["body"][1]["color"] == "Default"
    assert card["actions"] == [
        {"type": "Action.Submit", "title": "End", "data": {ACTION_FIELD: END, "case": "c1"}}
    ]
    ended = taken.model_copy(update={"state": CaseState.ENDED,
                                     "closed_at": taken_at + timedelta(seconds=450)})  # fmt: skip
    assert status_of(ended) == "Ended by Kim after 8 min: the customer is back with the bot"
    assert status_of(a_case(state=CaseState.WITHDRAWN)) == "The customer stopped waiting"
    assert status_of(a_case(state=CaseState.TIMED_OUT)) == (
        "Nobody took it in time: the customer was offered to leave a note"
    )
    assert status_of(a_case(state=CaseState.FAILED)) == "Closed"
    assert status_of(a_case(state=CaseState.ENDED)) == (
        "Ended by an agent after 0 min: the customer is back with the bot"
    )
    for state in (CaseState.ENDED, CaseState.WITHDRAWN, CaseState.TIMED_OUT, CaseState.FAILED):
        assert card_of(card_message(a_case(state=state)))["actions"] == []


# --- a contact center ----------------------------------------------------------------------


async def test_a_contact_center_is_asked_on_the_customers_own_conversation() -> None:
    channel = RecordingChannel()
    desk = ProtocolDesk(channel)
    case = a_case(desk="protocol")
    assert await desk.ready() and desk.answers_on(case) == CUSTOMER
    assert await desk.open_case(case, 4) == case
    assert channel.sent == [("conv-ana", initiate_event(case))]
    # The contact center keeps its own view: nothing else is sent to it.
    await desk.case_changed(case)
    await desk.customer_said(case, "hello?")
    await desk.customer_typing(case)
    await desk.remind(case, 9)
    assert len(channel.sent) == 1 and channel.updated == []


def test_handoff_initiate_carries_what_the_bot_knows_and_the_transcript_as_activities() -> None:
    event = initiate_event(a_case())
    assert (event["type"], event["name"]) == ("event", INITIATE)
    assert event["value"] == {
        "caseId": "c1", "customerId": "cust-ana", "customerName": "Ana",
        "reason": "frustration", "channel": "webchat", "locale": "es-ES",
        "requestedAt": NOW.isoformat(),
        "facts": [{"name": "Last order", "value": "123456: shipped"}],
    }  # fmt: skip
    [transcript] = event["attachments"]
    assert (transcript["contentType"], transcript["name"]) == ("application/json", "Transcript")
    ana = {"id": "user-ana", "name": "Ana", "role": "user"}
    bot = {"id": "bot-1", "name": "Help", "role": "bot"}
    assert transcript["content"]["activities"] == [
        {"type": "message", "channelId": "webchat", "conversation": {"id": "conv-ana"},
         "from": ana, "recipient": bot, "text": "where is it??",
         "timestamp": NOW.isoformat()},
        {"type": "message", "channelId": "webchat", "conversation": {"id": "conv-ana"},
         "from": bot, "recipient": ana, "text": "It's on its way.",
         "timestamp": (NOW + timedelta(seconds=1)).isoformat()},
    ]  # fmt: skip


def test_every_card_an_agent_may_see_is_the_reviewed_one() -> None:
    # Teams reads the card field by field (tests.conftest.golden says how to write it again).
    kim = Agent(id="agent-kim", name="Kim")
    system = TranscriptLine(sender="system", text="conversation moved", at=NOW)
    cards = {
        "waiting, third": card_message(a_case(), 3),
        "waiting, nothing kept": card_message(a_case(customer_name=None, transcript=[]), 1),
        "with Kim": card_message(a_case(state=CaseState.WITH_AGENT, agent=kim,
                                        taken_at=NOW + timedelta(minutes=2))),
        "with an agent, from an older record": card_message(a_case(
            state=CaseState.WITH_AGENT, transcript=[system])),
        "ended by Kim": card_message(a_case(state=CaseState.ENDED, agent=kim, taken_at=NOW,
                                            closed_at=NOW + timedelta(minutes=12))),
    }  # fmt: skip
    text = json.dumps(cards, indent=1, ensure_ascii=False) + "\n"
    assert json.loads(golden(Path(__file__).with_name("desk_cards_golden.json"), text)) == cards
