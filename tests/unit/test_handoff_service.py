"""The hand-off core on its own: a case from the request to the bot taking back, with the
store in memory, a desk and a channel that record what they are given, and a clock the
test moves. The protocol ring runs the same through Teams and a contact center."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from analytics.events import ConversationEvent, EventName, conversation_pseudonym
from channels import replies
from channels.reference import ConversationRef
from customers.privacy import PrivacyPolicy
from handoff import service as service_module
from handoff import timer
from handoff.cases import (
    TRANSCRIPT_LENGTH,
    TRANSCRIPT_TEXT_LIMIT,
    Agent,
    Case,
    CaseState,
    Reason,
    TranscriptLine,
)
from handoff.desk import DeskUnavailable
from handoff.hours import BusinessHours
from handoff.service import (
    AGENT_IDLE,
    CASE_TTL,
    MAX_RELAYED_CHARS,
    MESSENGER_WINDOW,
    QUEUE_KEY,
    RECENT_WAITS,
    TELL_MOVES_UP_TO,
    WRITE_ATTEMPTS,
    HandoffService,
    Queued,
    Unavailable,
    _estimate,
    _within_limit,
)
from state.documents import DocumentWrite, EtagConflict, StorageError
from state.memory_store import MemoryDocumentStore
from tests.conftest import NOW, MovableClock, RecordingChannel, YieldingStore, golden

ALWAYS_OPEN = BusinessHours.parse("mon-sun 00:00-24:00", "UTC")
MAX_WAIT = timedelta(minutes=10)
REMIND_AFTER = timedelta(minutes=4)
KIM = Agent(id="agent-kim", name="Kim")
LEE = Agent(id="agent-lee", name="Lee")


class Desk:
    """An agents' desk that records what the core shows it."""

    name = "teams"

    def __init__(self, *, ready: bool = True, answers_on_own: bool = False) -> None:
        self.is_ready = ready
        self.answers_on_own = answers_on_own
        self.refuse: Exception | None = None
        self.broken: Exception | None = None  # every call after opening fails with it
        self.opened: list[tuple[str, int]] = []
        self.changed: list[tuple[str, CaseState]] = []
        self.heard: list[tuple[str, str]] = []
        self.typing: list[str] = []
        self.reminded: list[tuple[str, int]] = []

    async def ready(self) -> bool:
        return self.is_ready

    def answers_on(self, case: Case) -> ConversationRef | None:
        return case.customer if self.answers_on_own else None

    async def open_case(self, case: Case, position: int) -> Case:
        if self.refuse is not None:
            raise self.refuse
        self.opened.append((case.id, position))
        if self.answers_on_own:
            return case
        thread = ConversationRef(
            channel_id="msteams", service_url="http://teams", conversation_id=f"thread-{case.id}"
        )
        return case.model_copy(update={"desk_thread": thread, "desk_card_id": f"card-{case.id}"})

    async def case_changed(self, case: Case) -> None:
        self._maybe_break()
        self.changed.append((case.id, case.state))

    async def customer_said(self, case: Case, text: str) -> None:
        self._maybe_break()
        self.heard.append((case.id, text))

    async def customer_typing(self, case: Case) -> None:
        self._maybe_break()
        self.typing.append(case.id)

    async def remind(self, case: Case, waited_minutes: int) -> None:
        self._maybe_break()
        self.reminded.append((case.id, waited_minutes))

    def _maybe_break(self) -> None:
        if self.broken is not None:
            raise self.broken


class Parts:
    def __init__(
        self,
        *,
        documents: MemoryDocumentStore | None = None,
        desk: Desk | None = None,
        hours: BusinessHours = ALWAYS_OPEN,
        privacy: PrivacyPolicy | None = None,
    ) -> None:
        self.clock = MovableClock()
        self.documents = documents or MemoryDocumentStore(clock=lambda: self.clock.now.timestamp())
        self.desk = desk or Desk()
        self.channel = RecordingChannel()
        self.events: list[ConversationEvent] = []
        self.service = HandoffService(
            self.documents, self.desk, self.channel, hours, self.clock,
            max_wait=MAX_WAIT, remind_after=REMIND_AFTER, privacy=privacy,
            events=self.events.append,
        )  # fmt: skip

    async def request(
        self, customer: str, *, channel: str = "webchat", conversation_type: str | None = None,
        **more: object,
    ) -> Queued | Unavailable:  # fmt: skip
        arguments: dict = {
            "customer_id": customer, "analytics_id": f"pseudo-{customer}",
            "customer_name": customer.title(), "reason": Reason.ASKED,
            "customer": ref(customer, channel).model_copy(
                update={"conversation_type": conversation_type}),
            "facts": [("Last order", "123456: shipped")],
            "transcript": [line("customer", "I want a person")], **more,
        }  # fmt: skip
        return await self.service.request(**arguments)

    async def queued(self, customer: str, **more: object) -> Case:
        result = await self.request(customer, **more)
        assert isinstance(result, Queued), result
        return result.case

    async def queue(self) -> dict:
        return (await self.documents.read([QUEUE_KEY]))[QUEUE_KEY].data

    async def case(self, case_id: str) -> Case:
        case = await self.service.get(case_id)
        assert case is not None
        return case

    def event_names(self) -> list[EventName]:
        return [event.name for event in self.events]


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def ref(customer: str, channel: str = "webchat") -> ConversationRef:
    return ConversationRef(
        channel_id=channel, service_url="http://channel", conversation_id=f"conv-{customer}"
    )


def line(sender: str, text: str) -> TranscriptLine:
    return TranscriptLine(sender=sender, text=text, at=NOW)


# --- asking for a person --------------------------------------------------------------


async def test_outside_business_hours_or_without_a_desk_no_case_is_opened() -> None:
    closed = Parts(hours=BusinessHours.parse("sat 10:00-14:00", "UTC"))  # NOW is a Tuesday
    assert await closed.request("ana") is Unavailable.CLOSED
    assert closed.desk.opened == [] and closed.documents._entries == {}
    unset = Parts(desk=Desk(ready=False))
    assert await unset.request("ana") is Unavailable.NO_DESK
    assert unset.desk.opened == [] and unset.documents._entries == {}


async def test_a_request_is_stored_queued_shown_to_the_agents_and_its_wait_estimated() -> None:
    parts = Parts()
    transcript = [line("customer", f"message {n}") for n in range(TRANSCRIPT_LENGTH + 5)]
    first = await parts.request("ana", language="es", transcript=transcript)
    assert isinstance(first, Queued)
    assert (first.position, first.wait_minutes) == (1, 3)  # nothing to go by: 3 min a place
    second = await parts.request("ben")
    assert isinstance(second, Queued)
    assert (second.position, second.wait_minutes) == (2, 6)
    assert parts.desk.opened == [(first.case.id, 1), (second.case.id, 2)]
    assert (await parts.queue())["waiting"] == [first.case.id, second.case.id]

    stored = await parts.case(first.case.id)
    assert stored == first.case
    assert (stored.state, stored.customer_id, stored.analytics_id) == (
        CaseState.WAITING, "ana", "pseudo-ana")  # fmt: skip
    assert (stored.customer_name, stored.reason, stored.desk, stored.language) == (
        "Ana", Reason.ASKED, "teams", "es")  # fmt: skip
    assert stored.requested_at == NOW and stored.customer_last_message_at == NOW
    assert stored.facts == [("Last order", "123456: shipped")]
    # The agent sees the last messages, not the whole history.
    assert [t.text for t in stored.transcript] == [f"message {n}" for n in range(5, 25)]
    # Where the desk put it, and the position the customer was told.
    assert stored.desk_card_id == f"card-{stored.id}" and stored.told_position == 1
    assert [(e.name, e.value, e.detail) for e in stored.events] == [("requested", 1, "asked")]
    # An agent's answer in the card's thread finds the case.
    assert await parts.service.case_for_thread(f"thread-{stored.id}") == stored
    assert await parts.service.case_for_thread("another thread") is None
    assert await parts.service.waiting_cases() == [(1, first.case), (2, second.case)]
    assert parts.channel.sent == []  # the dialog tells the customer; the core does not
    assert parts.channel.updated == []


async def test_closed_cases_are_kept_for_the_analytics_then_forgotten() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    parts.clock.advance(timedelta(seconds=CASE_TTL - 60))
    assert await parts.service.get(case.id) is not None
    assert await parts.service.case_for_thread(f"thread-{case.id}") is not None
    parts.clock.advance(timedelta(seconds=120))
    assert await parts.service.get(case.id) is None
    assert await parts.service.case_for_thread(f"thread-{case.id}") is None


async def test_the_estimate_goes_by_the_median_of_the_last_waits() -> None:
    parts = Parts()
    waits = [60, 60, 60] + [600] * RECENT_WAITS  # the first three are forgotten
    for n, wait in enumerate(waits):
        case = await parts.queued(f"customer-{n}")
        parts.clock.advance(timedelta(seconds=wait))
        await parts.service.take(case.id, KIM)
    assert (await parts.queue())["recentWaits"] == [600.0] * RECENT_WAITS
    queued = await parts.request("ana")
    assert isinstance(queued, Queued) and queued.wait_minutes == 10


@pytest.mark.parametrize(
    "refusal", [DeskUnavailable("no channel"), ConnectionError("reset"), TimeoutError()]
)
async def test_a_desk_that_cannot_take_the_case_leaves_nothing_waiting(refusal: Exception) -> None:
    parts = Parts()
    parts.desk.refuse = refusal
    assert await parts.request("ana") is Unavailable.NO_DESK
    [key] = [k for k in parts.documents._entries if k.startswith("cases/")]
    failed = await parts.case(key.removeprefix("cases/"))
    assert failed.state is CaseState.FAILED and failed.closed_at == NOW
    assert (await parts.queue())["waiting"] == []
    # Quietly: the customer hears "no desk" from the dialog, the agents never saw the case.
    assert parts.desk.changed == [] and parts.channel.sent == []
    assert parts.events == []  # a case that never reached a desk is no hand-off


async def test_a_contact_center_case_is_found_by_the_customers_own_conversation() -> None:
    parts = Parts(desk=Desk(answers_on_own=True))
    case = await parts.queued("ana")
    assert case.desk_thread == ref("ana")
    assert await parts.service.case_for_thread("conv-ana") == case


async def test_from_a_restricted_channel_the_case_keeps_no_name_and_no_words() -> None:
    parts = Parts(privacy=PrivacyPolicy(frozenset({"facebook"})))
    case = await parts.queued("ana", channel="facebook")
    assert case.customer_name is None and case.transcript == []
    await parts.service.customer_said(case, "my address is 1 Main St")
    # The agent hears it; the case does not keep it.
    assert parts.desk.heard == [(case.id, "my address is 1 Main St")]
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    await parts.service.agent_said(taken.case, KIM, "thanks, noted")
    assert "thanks, noted" in parts.channel.texts_to("conv-ana")
    stored = await parts.case(case.id)
    assert stored.transcript == [] and stored.customer_name is None
    # Other channels keep both.
    web = await parts.queued("ben")
    assert web.customer_name == "Ben" and [t.text for t in web.transcript] == ["I want a person"]


# --- the agents take, talk and end ----------------------------------------------------


async def test_the_first_agent_to_take_a_case_gets_it_and_the_customer_is_told() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    parts.clock.advance(timedelta(seconds=90))
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None and taken.by_you
    assert taken.case.state is CaseState.WITH_AGENT and taken.case.agent == KIM
    assert taken.case.taken_at == NOW + timedelta(seconds=90)
    assert taken.case.last_message_at == taken.case.taken_at
    assert [(e.name, e.value) for e in taken.case.events] == [("requested", 1), ("taken", 90)]
    assert await parts.case(case.id) == taken.case
    assert parts.channel.texts_to("conv-ana") == [replies.agent_joined("Kim").text]
    assert parts.desk.changed == [(case.id, CaseState.WITH_AGENT)]
    queue = await parts.queue()
    assert (queue["waiting"], queue["live"], queue["recentWaits"]) == ([], [case.id], [90.0])
    [event] = parts.events
    assert (event.name, event.props, event.customer, event.channel) == (
        EventName.HANDOFF_TAKEN, {"waitSeconds": 90.0}, "pseudo-ana", "webchat")  # fmt: skip

    late = await parts.service.take(case.id, LEE)
    assert late is not None and not late.by_you and late.case.agent == KIM
    assert len(parts.events) == 1 and len(parts.channel.sent) == 1
    assert await parts.service.take("no-such-case", LEE) is None


async def test_two_agents_taking_one_case_at_once_make_one_change() -> None:
    parts = Parts(documents=YieldingStore())
    case = await parts.queued("ana")
    results = await asyncio.gather(*(
        parts.service.take(case.id, Agent(id=f"agent-{n}", name=f"Agent {n}")) for n in range(4)
    ))  # fmt: skip
    assert sorted(r.by_you for r in results if r) == [False, False, False, True]
    [winner] = [r.case.agent for r in results if r and r.by_you]
    assert (await parts.case(case.id)).agent == winner
    assert parts.channel.texts_to("conv-ana") == [replies.agent_joined(winner.name).text]
    assert (await parts.queue())["live"] == [case.id]
    assert parts.event_names() == [EventName.HANDOFF_TAKEN]


async def test_customers_behind_are_told_they_moved_up_once_and_only_near_the_front() -> None:
    parts = Parts()
    cases = [await parts.queued(f"c{n}") for n in range(TELL_MOVES_UP_TO + 3)]
    await parts.service.take(cases[0].id, KIM)
    for position, case in enumerate(cases[1 : TELL_MOVES_UP_TO + 1], start=1):
        assert parts.channel.texts_to(case.customer.conversation_id) == [
            replies.moved_up(position).text
        ]
        assert (await parts.case(case.id)).told_position == position
    for case in cases[TELL_MOVES_UP_TO + 1 :]:
        assert parts.channel.texts_to(case.customer.conversation_id) == []
    # A change that moves nobody tells nobody again.
    await parts.service.take("no-such-case", KIM)
    sent = len(parts.channel.sent)
    await parts.service.withdraw(cases[-1].id)
    assert len(parts.channel.sent) == sent


async def test_the_move_up_is_said_in_the_customers_language_and_a_dead_channel_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = Parts()
    first = await parts.queued("ana")
    await parts.queued("ben", language="es")
    await parts.queued("cy")
    await parts.service.take(first.id, KIM)
    assert parts.channel.texts_to("conv-ben") == [
        replies.in_language(replies.moved_up(1), "es").text
    ]
    assert parts.channel.texts_to("conv-cy") == [replies.moved_up(2).text]

    caplog.set_level(logging.INFO, "handoff.service")
    parts.channel.broken = ConnectionError("the channel is down")
    cases = await parts.service.waiting_cases()
    await parts.service.withdraw(cases[0][1].id)  # cy moves up to 1, but cannot be told
    cy = cases[1][1].id
    assert f"case {cy}: the move up was not told: the channel is down" in logged(caplog)
    assert (await parts.service.waiting_cases())[0][1].customer_id == "cy"


async def test_an_agents_message_reaches_the_customer_and_is_kept_on_the_case() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    assert not await parts.service.agent_said(case, KIM, "before taking")  # not theirs yet
    assert parts.channel.sent == []
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    parts.clock.advance(timedelta(minutes=2))
    assert await parts.service.agent_said(taken.case, KIM, "Hello, I'm Kim")
    assert parts.channel.texts_to("conv-ana")[-1] == "Hello, I'm Kim"
    stored = await parts.case(case.id)
    assert (stored.transcript[-1].sender, stored.transcript[-1].text) == ("agent", "Hello, I'm Kim")
    assert stored.last_message_at == NOW + timedelta(minutes=2)
    assert stored.customer_last_message_at == NOW  # the agent spoke, not the customer


async def test_a_huge_message_is_cut_both_ways_and_the_case_keeps_a_shorter_copy() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    huge = "word " * 2000
    await parts.service.customer_said(case, huge)
    [(_, relayed)] = parts.desk.heard
    assert len(relayed) <= MAX_RELAYED_CHARS and relayed.endswith(" … (message cut)")
    assert relayed.startswith("word word")
    assert len((await parts.case(case.id)).transcript[-1].text) == TRANSCRIPT_TEXT_LIMIT
    exact = "x" * MAX_RELAYED_CHARS
    await parts.service.customer_said(case, exact)
    assert parts.desk.heard[-1][1] == exact  # at the limit, nothing is cut
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    await parts.service.agent_said(taken.case, KIM, huge)
    assert parts.channel.texts_to("conv-ana")[-1] == relayed


async def test_the_customers_words_reach_the_desk_and_the_case_keeps_the_last_ones() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    for n in range(TRANSCRIPT_LENGTH + 3):
        parts.clock.advance(timedelta(seconds=1))
        await parts.service.customer_said(case, f"line {n}")
    assert len(parts.desk.heard) == TRANSCRIPT_LENGTH + 3
    stored = await parts.case(case.id)
    assert [t.text for t in stored.transcript][-1] == f"line {TRANSCRIPT_LENGTH + 2}"
    assert len(stored.transcript) == TRANSCRIPT_LENGTH
    assert {t.sender for t in stored.transcript} == {"customer"}
    assert stored.customer_last_message_at == NOW + timedelta(seconds=TRANSCRIPT_LENGTH + 3)
    assert stored.last_message_at == stored.customer_last_message_at


async def test_a_message_the_desk_did_not_get_is_an_error_and_not_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = Parts()
    case = await parts.queued("ana")
    parts.desk.broken = ConnectionError("teams is down")
    with pytest.raises(ConnectionError):
        await parts.service.customer_said(case, "are you there?")
    assert logged(caplog) == [
        f"case {case.id}: the customer's message did not reach the desk: teams is down"
    ]
    assert [t.text for t in (await parts.case(case.id)).transcript] == ["I want a person"]
    # Typing is a courtesy: a desk that cannot show it is no error.
    await parts.service.customer_typing(case)
    parts.desk.broken = None
    await parts.service.customer_typing(case)
    assert parts.desk.typing == [case.id]


async def test_a_relayed_message_the_store_cannot_record_is_still_relayed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Contended(MemoryDocumentStore):
        """Another writer always gets to a case first."""

        async def write(self, writes):  # type: ignore[no-untyped-def]
            if any(key.startswith("cases/") for key in writes) and self.contended:
                raise EtagConflict("another writer")
            return await super().write(writes)

    documents = Contended()
    documents.contended = False
    parts = Parts(documents=documents)
    case = await parts.queued("ana")
    documents.contended = True
    await parts.service.customer_said(case, "still there?")
    assert parts.desk.heard == [(case.id, "still there?")]
    assert logged(caplog) == [
        f"case {case.id}: a message was relayed but not added to the case: "
        f"case {case.id} kept changing under this write"
    ]
    # Other changes say so: a change that never gets written is not taken as made.
    with pytest.raises(StorageError, match="kept changing"):
        await parts.service.take(case.id, KIM)


async def test_agents_typing_shows_only_in_a_case_they_have() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    await parts.service.agent_typing(case)
    assert parts.channel.sent == []
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    await parts.service.agent_typing(taken.case)
    assert parts.channel.to("conv-ana")[-1] == {"type": "typing"}
    parts.channel.broken = TimeoutError()
    await parts.service.agent_typing(taken.case)  # no error


async def test_on_messenger_an_agents_reply_after_24_hours_carries_the_human_agent_tag() -> None:
    parts = Parts()
    case = await parts.queued("ana", channel="facebook")
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    parts.clock.advance(MESSENGER_WINDOW)
    await parts.service.agent_said(taken.case, KIM, "within the window")
    assert "channelData" not in parts.channel.to("conv-ana")[-1]
    parts.clock.advance(timedelta(seconds=1))
    await parts.service.agent_said(taken.case, KIM, "after the window")
    assert parts.channel.to("conv-ana")[-1]["channelData"] == {
        "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}  # fmt: skip
    # The window runs from the customer's last message.
    await parts.service.customer_said(taken.case, "back again")
    fresh = await parts.case(case.id)
    await parts.service.agent_said(fresh, KIM, "welcome back")
    assert "channelData" not in parts.channel.to("conv-ana")[-1]
    # The tag is Messenger's: no other channel gets it.
    web = await parts.queued("ben")
    web_taken = await parts.service.take(web.id, KIM)
    assert web_taken is not None
    parts.clock.advance(MESSENGER_WINDOW * 2)
    await parts.service.agent_said(web_taken.case, KIM, "hello")
    assert "channelData" not in parts.channel.to("conv-ben")[-1]


async def test_the_agent_ends_the_case_and_the_bot_takes_back_asking_if_it_helped() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    assert await parts.service.end(case.id) is None  # nobody had it yet
    await parts.service.take(case.id, KIM)
    parts.clock.advance(timedelta(minutes=7))
    ended = await parts.service.end(case.id)
    assert ended is not None and ended.state is CaseState.ENDED
    assert ended.closed_at == NOW + timedelta(minutes=7) and ended.handling_seconds == 420
    assert ended.events[-1].name == "ended" and ended.events[-1].value == 420
    assert parts.channel.texts_to("conv-ana")[-1] == replies.agent_left("Kim").text
    assert parts.desk.changed[-1] == (case.id, CaseState.ENDED)
    assert (await parts.queue())["live"] == []
    assert parts.event_names() == [EventName.HANDOFF_TAKEN, EventName.HANDOFF_ENDED]
    assert parts.events[-1].props == {"seconds": 420.0}
    assert await parts.service.end(case.id) is None  # once
    assert len(parts.events) == 2


async def test_a_customer_who_stops_waiting_withdraws_only_a_waiting_case() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    behind = await parts.queued("ben")
    parts.clock.advance(timedelta(seconds=45))
    withdrawn = await parts.service.withdraw(case.id)
    assert withdrawn is not None and withdrawn.state is CaseState.WITHDRAWN
    assert withdrawn.events[-1].name == "withdrawn" and withdrawn.events[-1].value == 45
    assert parts.events[-1].name is EventName.HANDOFF_WITHDRAWN
    assert parts.events[-1].props == {"seconds": 45.0}
    assert (await parts.queue())["waiting"] == [behind.id]
    assert parts.channel.texts_to("conv-ben") == [replies.moved_up(1).text]
    assert parts.desk.changed == [(case.id, CaseState.WITHDRAWN)]
    await parts.service.take(behind.id, KIM)
    assert await parts.service.withdraw(behind.id) is None  # with an agent: the agent ends it
    assert await parts.service.withdraw("no-such-case") is None


async def test_the_customers_answers_after_the_case_are_recorded_once() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    await parts.service.record_solved(case.id, False)
    await parts.service.record_solved(case.id, True)  # the first answer stands
    await parts.service.record_rating(case.id, 4)
    await parts.service.record_rating(case.id, 1)
    await parts.service.record_ticket(case.id, "T-1")
    await parts.service.record_ticket(case.id, "T-2")  # every note is kept
    stored = await parts.case(case.id)
    assert (stored.solved, stored.rating) == (False, 4)
    assert [(e.name, e.value, e.detail) for e in stored.events[1:]] == [
        ("solved", 0, None), ("rated", 4, None), ("ticket", None, "T-1"),
        ("ticket", None, "T-2"),
    ]  # fmt: skip
    other = await parts.queued("ben")
    await parts.service.record_solved(other.id, True)
    assert (await parts.case(other.id)).events[-1].value == 1


# --- time ------------------------------------------------------------------------------


async def test_agents_are_reminded_once_then_the_case_times_out_and_the_customer_is_told() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    parts.clock.advance(REMIND_AFTER - timedelta(seconds=1))
    await parts.service.tick()
    assert parts.desk.reminded == []
    parts.clock.advance(timedelta(seconds=1))
    await parts.service.tick()
    assert parts.desk.reminded == [(case.id, 4)]
    assert (await parts.case(case.id)).reminded_at == NOW + REMIND_AFTER
    parts.clock.advance(timedelta(minutes=1))
    await parts.service.tick()
    assert parts.desk.reminded == [(case.id, 4)]  # once
    assert parts.channel.sent == []

    parts.clock.now = NOW + MAX_WAIT
    await parts.service.tick()
    timed_out = await parts.case(case.id)
    assert timed_out.state is CaseState.TIMED_OUT and timed_out.closed_at == NOW + MAX_WAIT
    assert [e.name for e in timed_out.events] == ["requested", "reminded", "timedOut"]
    assert parts.channel.texts_to("conv-ana") == [replies.NOBODY_FREE.text]
    assert parts.desk.changed == [(case.id, CaseState.TIMED_OUT)]
    assert parts.events[-1].name is EventName.HANDOFF_TIMED_OUT
    assert parts.events[-1].props == {"seconds": MAX_WAIT.total_seconds()}
    assert (await parts.queue())["waiting"] == []
    await parts.service.tick()
    assert len(parts.channel.sent) == 1  # told once


async def test_two_instances_ticking_at_once_time_a_case_out_once() -> None:
    documents = YieldingStore()
    one, two = Parts(documents=documents), Parts(documents=documents)
    case = await one.queued("ana")
    for parts in (one, two):
        parts.clock.now = NOW + REMIND_AFTER
    await asyncio.gather(one.service.tick(), two.service.tick())
    assert len(one.desk.reminded) + len(two.desk.reminded) == 1
    for parts in (one, two):
        parts.clock.now = NOW + MAX_WAIT
    await asyncio.gather(one.service.tick(), two.service.tick())
    told = one.channel.texts_to("conv-ana") + two.channel.texts_to("conv-ana")
    assert told == [replies.NOBODY_FREE.text]
    assert (await one.case(case.id)).state is CaseState.TIMED_OUT


async def test_a_case_where_nobody_writes_for_half_an_hour_goes_back_to_the_bot() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    await parts.service.take(case.id, KIM)
    parts.clock.advance(AGENT_IDLE - timedelta(minutes=5))
    await parts.service.customer_said(await parts.case(case.id), "hello?")
    parts.clock.advance(timedelta(minutes=5))
    await parts.service.tick()
    assert (await parts.case(case.id)).state is CaseState.WITH_AGENT  # the customer wrote
    parts.clock.advance(AGENT_IDLE - timedelta(minutes=5))
    await parts.service.tick()
    ended = await parts.case(case.id)
    assert ended.state is CaseState.ENDED
    assert parts.channel.texts_to("conv-ana")[-1] == replies.agent_left("Kim").text


async def test_a_tick_goes_on_past_a_channel_or_desk_that_does_not_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = Parts()
    live = await parts.queued("ana")
    await parts.service.take(live.id, KIM)
    waiting = await parts.queued("ben")
    parts.clock.advance(AGENT_IDLE - REMIND_AFTER)
    reminded = await parts.queued("cy")
    # Now Kim's case is idle, Ben's has timed out, and Cy's is due a reminder.
    parts.clock.advance(REMIND_AFTER)
    parts.channel.broken = ConnectionError("the channel is down")
    parts.desk.broken = TimeoutError()
    await parts.service.tick()
    assert (await parts.case(waiting.id)).state is CaseState.TIMED_OUT
    assert (await parts.case(live.id)).state is CaseState.ENDED
    messages = logged(caplog)
    assert f"case {waiting.id}: the customer or the desk was not told: the channel is down" in (
        messages
    )
    assert f"case {live.id} ended idle; the customer was not told: the channel is down" in (
        messages
    )
    assert (await parts.case(reminded.id)).reminded_at == parts.clock.now
    assert f"case {live.id}: the desk did not take the change: " in messages


# --- a contact center's answers ---------------------------------------------------------


async def test_a_contact_center_accepts_completes_or_fails_a_case_once() -> None:
    parts = Parts(desk=Desk(answers_on_own=True))
    case = await parts.queued("ana")
    parts.clock.advance(timedelta(seconds=30))
    accepted = await parts.service.desk_accepted(case.id, KIM)
    assert accepted is not None and accepted.agent == KIM and accepted.wait_seconds == 30
    assert await parts.service.desk_accepted(case.id, LEE) is None
    queue = await parts.queue()
    assert (queue["waiting"], queue["live"], queue["recentWaits"]) == ([], [case.id], [30.0])
    assert await parts.service.desk_failed(case.id) is None  # failed only while waiting
    completed = await parts.service.desk_completed(case.id)
    assert completed is not None and completed.state is CaseState.ENDED
    assert await parts.service.desk_completed(case.id) is None
    assert parts.event_names() == [EventName.HANDOFF_TAKEN, EventName.HANDOFF_ENDED]

    never = await parts.queued("ben")
    failed = await parts.service.desk_failed(never.id)
    assert failed is not None and failed.state is CaseState.FAILED
    assert parts.event_names()[-1] is EventName.HANDOFF_ENDED  # a failure is no hand-off
    unanswered = await parts.queued("cy")
    done = await parts.service.desk_completed(unanswered.id)  # completed while waiting
    assert done is not None and done.state is CaseState.ENDED
    assert (await parts.queue())["waiting"] == []


async def test_a_case_that_keeps_changing_under_the_queue_says_so() -> None:
    class Busy(MemoryDocumentStore):
        async def write(self, writes):  # type: ignore[no-untyped-def]
            if QUEUE_KEY in writes:
                self.queue_writes += 1
                raise EtagConflict("another writer")
            return await super().write(writes)

    documents = Busy()
    documents.queue_writes = 0
    parts = Parts(documents=documents)
    with pytest.raises(StorageError, match="the hand-off queue kept changing"):
        await parts.request("ana")
    assert documents.queue_writes == WRITE_ATTEMPTS


async def test_the_hand_off_clock_ticks_in_the_background_and_a_stuck_tick_is_cut_short(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(timer, "TICK_SECONDS", 0.01)
    monkeypatch.setattr(timer, "TICK_DEADLINE", 0.05)
    parts = Parts()
    case = await parts.queued("ana")
    parts.clock.advance(MAX_WAIT)
    clock = timer.handoff_timer(parts.service)
    await clock.open()
    try:
        assert "handoff-timer" in {task.get_name() for task in asyncio.all_tasks()}
        for _ in range(200):
            await asyncio.sleep(0.01)
            if (await parts.case(case.id)).state is CaseState.TIMED_OUT:
                break
        assert (await parts.case(case.id)).state is CaseState.TIMED_OUT
        stuck = asyncio.Event()
        parts.desk.remind = lambda *_: stuck.wait()  # type: ignore[method-assign]
        reminded = await parts.queued("ben")
        parts.clock.advance(REMIND_AFTER)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if "handoff-timer: this run failed" in caplog.text:
                break
    finally:
        await clock.close()
    assert "handoff-timer: this run failed, the next will try again" in caplog.text
    assert (await parts.case(reminded.id)).reminded_at is not None


# --- what mutation testing found untested --------------------------------------------------


def test_the_estimate_rounds_each_part_minute_up() -> None:
    assert _estimate([61], 1) == 2 and _estimate([60], 1) == 1 and _estimate([30], 3) == 2


async def test_with_nothing_stored_yet_a_tick_and_the_queue_are_empty() -> None:
    parts = Parts()
    await parts.service.tick()
    assert await parts.service.waiting_cases() == [] and parts.documents._entries == {}


async def test_a_move_up_already_told_is_skipped_and_those_behind_still_told() -> None:
    parts = Parts()
    ana, ben = await parts.queued("ana"), await parts.queued("ben")
    await parts.queued("cy")
    await parts.service.withdraw(ben.id)  # Ana was told 1 already; Cy moves up to 2
    assert parts.channel.texts_to("conv-ana") == []
    assert parts.channel.texts_to("conv-cy") == [replies.moved_up(2).text]
    assert (await parts.case(ana.id)).told_position == 1


async def test_a_reminder_records_how_long_the_case_had_waited() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    parts.clock.advance(REMIND_AFTER + timedelta(seconds=30))
    await parts.service.tick()
    [reminded] = [e for e in (await parts.case(case.id)).events if e.name == "reminded"]
    assert (reminded.at, reminded.value) == (parts.clock.now, 270.0)
    assert parts.desk.reminded == [(case.id, 4)]


async def test_the_events_name_the_case_by_pseudonyms_at_the_moment_it_changed() -> None:
    parts = Parts()
    case = await parts.queued("ana", analytics_id=None)
    parts.clock.advance(timedelta(seconds=20))
    await parts.service.take(case.id, KIM)
    [taken] = parts.events
    assert taken.at == NOW + timedelta(seconds=20) and taken.customer == "unknown"
    assert taken.conversation == conversation_pseudonym("webchat", "conv-ana")
    assert taken.conversation != "conv-ana"
    center = Parts(desk=Desk(answers_on_own=True))
    waiting = await center.queued("ben")
    center.clock.advance(timedelta(seconds=50))
    await center.service.desk_accepted(waiting.id, KIM)
    assert [(e.name, e.props) for e in center.events] == [
        (EventName.HANDOFF_TAKEN, {"waitSeconds": 50.0})]  # fmt: skip


async def test_on_teams_the_take_back_question_is_shaped_for_the_kind_of_chat() -> None:
    for kind, shape in (("personal", "suggestedActions"), ("groupChat", "attachments")):
        parts = Parts()
        case = await parts.queued("ana", channel="msteams", conversation_type=kind)
        await parts.service.take(case.id, KIM)
        await parts.service.end(case.id)
        assert shape in parts.channel.to("conv-ana")[-1], kind


async def test_typing_from_an_agent_never_fails_whatever_the_channel_says() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    for failure in (ConnectionError("reset"), TimeoutError()):
        parts.channel.broken = failure
        await parts.service.agent_typing(taken.case)
        parts.desk.broken = failure
        await parts.service.customer_typing(taken.case)


async def write_case(parts: Parts, case: Case) -> None:
    """A case as an older version of the bot may have stored it."""
    key = f"cases/{case.id}"
    stored = (await parts.documents.read([key]))[key]
    await parts.documents.write({key: DocumentWrite(case.to_json(), if_match=stored.etag)})


async def test_a_case_stored_without_its_agent_or_last_message_still_ends_well() -> None:
    parts = Parts()
    case = await parts.queued("ana")
    taken = await parts.service.take(case.id, KIM)
    assert taken is not None
    await write_case(parts, taken.case.model_copy(update={"agent": None, "last_message_at": None}))
    parts.clock.advance(AGENT_IDLE)  # idle since it was taken
    await parts.service.tick()
    assert (await parts.case(case.id)).state is CaseState.ENDED
    assert parts.channel.texts_to("conv-ana")[-1] == replies.agent_left("Our team").text


async def test_a_case_taken_while_the_tick_looked_is_not_timed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parts = Parts()
    case = await parts.queued("ana")
    stale = await parts.service.waiting_cases()
    await parts.service.take(case.id, KIM)
    monkeypatch.setattr(parts.service, "waiting_cases", lambda: _return(stale))
    parts.clock.advance(MAX_WAIT)
    await parts.service.tick()
    assert (await parts.case(case.id)).state is CaseState.WITH_AGENT
    assert replies.NOBODY_FREE.text not in parts.channel.texts_to("conv-ana")


async def _return(value: object) -> object:
    return value


async def test_what_the_hand_off_core_logs_is_what_an_operator_reads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ids = iter(f"case{n}" for n in range(1, 10))
    monkeypatch.setattr(service_module, "_new_id", lambda: next(ids))
    caplog.set_level(logging.INFO, "handoff.service")
    parts = Parts()
    ana = await parts.queued("ana")
    await parts.queued("ben")
    parts.clock.advance(timedelta(seconds=95))
    await parts.service.take(ana.id, KIM)
    parts.channel.broken = ConnectionError("the channel is down")
    parts.desk.broken = TimeoutError("the desk is slow")
    parts.clock.advance(timedelta(minutes=3))
    with pytest.raises(ConnectionError):  # the dialog tells the agent it did not reach
        await parts.service.end(ana.id)
    parts.channel.broken = parts.desk.broken = None
    await parts.service.record_solved(ana.id, True)
    await parts.service.record_rating(ana.id, 5)
    await parts.service.record_ticket(ana.id, "T-1")
    parts.clock.advance(MAX_WAIT)
    parts.channel.broken = ConnectionError("the channel is down")
    await parts.service.tick()
    center = Parts(desk=Desk(answers_on_own=True))
    cy = await center.queued("cy")
    center.clock.advance(timedelta(seconds=42))
    await center.service.desk_accepted(cy.id, KIM)
    center.desk.refuse = DeskUnavailable("nobody is there")
    await center.request("dan")
    center.desk = Desk(ready=False)
    center.service.desk = center.desk
    await center.request("eve")
    logged = "\n".join(record.getMessage() for record in caplog.records) + "\n"
    assert logged == golden(Path(__file__).with_name("handoff_log_golden.txt"), logged)


async def test_a_second_hand_off_in_the_same_conversation_is_answered_on_it() -> None:
    # A contact center answers on the customer's own conversation; after one case ends the
    # customer may ask again there, and the contact center's answers are for the new case.
    parts = Parts(desk=Desk(answers_on_own=True))
    first = await parts.queued("ana")
    await parts.service.desk_completed(first.id)
    second = await parts.queued("ana")
    assert second.id != first.id
    found = await parts.service.case_for_thread("conv-ana")
    assert found is not None and found.id == second.id
    accepted = await parts.service.desk_accepted(second.id, KIM)
    assert accepted is not None and accepted.state is CaseState.WITH_AGENT


class QueueReadTogether(YieldingStore):
    """The first two reads of the queue wait for each other, as two instances' reads at the
    same instant: each then writes over what it read."""

    def __init__(self) -> None:
        super().__init__()
        self.readers = 0
        self.both = asyncio.Event()

    async def read(self, keys):  # type: ignore[no-untyped-def]
        keys = list(keys)
        found = await super().read(keys)
        if keys == [QUEUE_KEY] and self.readers < 2:
            self.readers += 1
            if self.readers == 2:
                self.both.set()
            await asyncio.wait_for(self.both.wait(), 2)
        return found


async def test_customers_asking_at_once_are_all_queued_each_case_with_its_own_id() -> None:
    parts = Parts(documents=QueueReadTogether())
    results = await asyncio.gather(*(parts.request(f"c{n}") for n in range(6)))
    ids = [r.case.id for r in results if isinstance(r, Queued)]
    assert len(ids) == 6 and sorted((await parts.queue())["waiting"]) == sorted(ids)
    assert sorted(r.position for r in results if isinstance(r, Queued)) == [1, 2, 3, 4, 5, 6]
    assert all(re.fullmatch(r"[0-9a-f]{16}", case_id) for case_id in ids)
    threads = [key for key in parts.documents._entries if key.startswith("handoff/threads/")]
    assert len(threads) == 6
    assert all(re.fullmatch(r"handoff/threads/[0-9a-f]{40}", key) for key in threads)


def test_a_long_message_is_cut_twenty_characters_short_of_the_limit_keeping_its_start() -> None:
    text = "  indented start " + "x" * MAX_RELAYED_CHARS
    cut = _within_limit(text)
    assert cut == text[: MAX_RELAYED_CHARS - 20] + " … (message cut)"
    spaced = "y" * (MAX_RELAYED_CHARS - 21) + " " + "z" * 50
    assert _within_limit(spaced) == "y" * (MAX_RELAYED_CHARS - 21) + " … (message cut)"


async def test_a_thread_index_goes_with_its_case() -> None:
    parts = Parts()
    await parts.queued("ana")
    parts.clock.advance(timedelta(seconds=CASE_TTL))
    now = parts.clock.now.timestamp()
    assert [key for key, entry in parts.documents._entries.items() if entry.live(now)] == [
        QUEUE_KEY]  # fmt: skip
