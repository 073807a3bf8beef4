"""The hand-off core: opens cases, keeps the queue, relays both ways, times cases out.

Every change to a case is a read, a change and a write naming the etag read; a write
that meets another writer's is retried on the fresh case, and a change that no longer
applies (the case was taken, withdrawn, ended meanwhile) is refused. So two agents
clicking "Take it" at once, or two instances timing out one case, make one change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import secrets
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from analytics.events import ConversationEvent, EventName, conversation_pseudonym
from channels import replies
from channels.reference import ConversationRef
from channels.render import render
from customers.privacy import PrivacyPolicy
from handoff.cases import (
    TRANSCRIPT_LENGTH,
    TRANSCRIPT_TEXT_LIMIT,
    Agent,
    Case,
    CaseState,
    Reason,
    TranscriptLine,
)
from handoff.desk import AgentDesk, DeskUnavailable, Json, Outbound
from handoff.hours import BusinessHours
from state.documents import DocumentStore, DocumentWrite, EtagConflict, StorageError

log = logging.getLogger(__name__)

QUEUE_KEY = "handoff/queue"
CASE_PREFIX = "cases/"
THREAD_PREFIX = "handoff/threads/"
# Attempts at one change when other writers keep getting there first.
WRITE_ATTEMPTS = 8
# Waits remembered for the estimate.
RECENT_WAITS = 20
# With no waits to go by, each place in the queue is taken as this long.
DEFAULT_WAIT_PER_PLACE = timedelta(minutes=3)
# Customers told when they move up: the first few places (a long queue is not spammed).
TELL_MOVES_UP_TO = 5
# Closed cases are kept this long (the analytics read them), then forgotten.
CASE_TTL = 90 * 24 * 3600
# A relayed message is cut to this many characters: a Teams message holds about 28 KB,
# and nobody types more in a chat.
MAX_RELAYED_CHARS = 4000
# A case with an agent where neither side writes for this long is ended: the bot takes back.
AGENT_IDLE = timedelta(minutes=30)
# Messenger: free replies for 24 h after the customer's last message; after it, an agent's
# reply needs the HUMAN_AGENT tag (7 days).
MESSENGER_WINDOW = timedelta(hours=24)


class Unavailable(StrEnum):
    """Why no case was opened: the customer is offered a follow-up instead."""

    CLOSED = "closed"  # outside business hours
    NO_DESK = "noDesk"  # the agents' desk is not set up, or cannot be reached


@dataclass(frozen=True)
class Queued:
    case: Case
    position: int
    wait_minutes: int


@dataclass(frozen=True)
class Taken:
    case: Case
    # False: someone else had it already (case.agent says who), or it is no longer waiting.
    by_you: bool


class HandoffService:
    def __init__(
        self,
        documents: DocumentStore,
        desk: AgentDesk,
        outbound: Outbound,
        hours: BusinessHours,
        clock: Callable[[], datetime],
        *,
        max_wait: timedelta,
        remind_after: timedelta,
        privacy: PrivacyPolicy | None = None,
        events: Callable[[ConversationEvent], None] | None = None,
    ) -> None:
        # Where analytics events go (taken, ended, timed out...): never waits, never fails.
        self._events = events or (lambda _: None)
        self._documents = documents
        # From a restricted channel a case keeps no words and no name: the agents see them
        # in their own channel, the bot's store does not keep them.
        self._privacy = privacy or PrivacyPolicy()
        self.desk = desk
        self._outbound = outbound
        self.hours = hours
        self._clock = clock
        self._max_wait = max_wait
        self._remind_after = remind_after

    def now(self) -> datetime:
        return self._clock()

    # --- the customer's side --------------------------------------------------------

    async def request(
        self,
        *,
        customer_id: str,
        analytics_id: str | None = None,
        customer_name: str | None,
        reason: Reason,
        customer: ConversationRef,
        facts: list[tuple[str, str]],
        transcript: list[TranscriptLine],
        language: str | None = None,
    ) -> Queued | Unavailable:
        now = self._clock()
        if not self.hours.is_open(now):
            log.info("hand-off requested outside business hours: follow-up offered")
            return Unavailable.CLOSED
        if not await self.desk.ready():
            log.warning("hand-off requested but the %s desk is not set up", self.desk.name)
            return Unavailable.NO_DESK
        restricted = self._privacy.restricts(customer.channel_id)
        case = Case(
            id=_new_id(),
            customer_id=customer_id,
            analytics_id=analytics_id,
            customer_name=None if restricted else customer_name,
            reason=reason,
            desk=self.desk.name,
            customer=customer,
            language=language,
            requested_at=now,
            facts=facts,
            transcript=[] if restricted else transcript[-TRANSCRIPT_LENGTH:],
            customer_last_message_at=now,
        )
        case.desk_thread = self.desk.answers_on(case)
        await self._documents.write(
            {case_key(case.id): DocumentWrite(case.to_json(), create_only=True, ttl=CASE_TTL)}
        )
        if case.desk_thread is not None:
            await self._index_thread(case)
        waiting, waits = await self._change_queue(lambda ids: [*ids, case.id])
        position = waiting.index(case.id) + 1
        try:
            placed = await self.desk.open_case(case, position)
        except (DeskUnavailable, ConnectionError, TimeoutError, StorageError) as error:
            log.warning("the %s desk could not take case %s: %s", self.desk.name, case.id, error)
            await self._close(case.id, CaseState.FAILED, quiet=True)
            return Unavailable.NO_DESK
        indexed = case.desk_thread is not None
        case = await self._change(case.id, lambda c: _placed(c, placed, position)) or case
        if case.desk_thread is not None and not indexed:
            await self._index_thread(case)
        log.info("hand-off case %s requested (%s), position %d", case.id, reason, position)
        return Queued(case, position, _estimate(waits, position))

    async def get(self, case_id: str) -> Case | None:
        stored = (await self._documents.read([case_key(case_id)])).get(case_key(case_id))
        return Case.from_json(stored.data) if stored else None

    async def withdraw(self, case_id: str) -> Case | None:
        """The customer no longer waits ("cancel"); None when the case was not waiting."""
        return await self._close(case_id, CaseState.WITHDRAWN, only_from=(CaseState.WAITING,))

    async def customer_said(self, case: Case, text: str) -> None:
        text = _within_limit(text)
        now = self._clock()
        kept = "" if self._privacy.restricts(case.customer.channel_id) else text
        try:
            await self.desk.customer_said(case, text)
        except (ConnectionError, TimeoutError) as error:
            log.warning("case %s: the customer's message did not reach the desk: %s",
                        case.id, error)  # fmt: skip
            raise
        # Relayed first: the case's copy is a record, and never the reason a message is lost.
        await self._note(case, lambda c: _heard(c, "customer", kept, now))

    async def customer_typing(self, case: Case) -> None:
        # Typing is a courtesy: never worth an error.
        with contextlib.suppress(ConnectionError, TimeoutError):
            await self.desk.customer_typing(case)

    async def record_solved(self, case_id: str, solved: bool) -> None:
        now = self._clock()
        await self._change(case_id, lambda c: _solved(c, solved, now))
        log.info("case %s: solved=%s", case_id, solved)

    async def record_rating(self, case_id: str, score: int) -> None:
        now = self._clock()
        await self._change(case_id, lambda c: _rated(c, score, now))
        log.info("case %s: rated %d", case_id, score)

    async def record_ticket(self, case_id: str, reference: str) -> None:
        """The customer left a note after this case: the ticket is on the case's record."""
        now = self._clock()
        await self._change(case_id, lambda c: _ticket(c, reference, now))
        log.info("case %s: ticket %s", case_id, reference)

    # --- the agents' side ----------------------------------------------------------

    async def take(self, case_id: str, agent: Agent) -> Taken | None:
        """The first agent to take a waiting case gets it; None when there is no such case."""
        now = self._clock()
        taken = await self._change(case_id, lambda c: _take(c, agent, now))
        if taken is None:
            case = await self.get(case_id)
            return Taken(case, by_you=False) if case else None
        waiting, _ = await self._change_queue(
            lambda ids: [i for i in ids if i != case_id], wait=taken.wait_seconds,
            live=lambda ids: [*ids, case_id],
        )  # fmt: skip
        log.info("case %s taken after %.0f s", case_id, taken.wait_seconds or 0)
        self._emit(taken, EventName.HANDOFF_TAKEN, waitSeconds=taken.wait_seconds)
        await self._desk_sees(taken)
        await self._tell_moves_up(waiting)
        # Last: the case is the agent's even when the customer's channel does not answer.
        await self._tell(taken, replies.agent_joined(agent.name))
        return Taken(taken, by_you=True)

    async def agent_said(self, case: Case, agent: Agent, text: str) -> bool:
        """Relays an agent's message to the customer; False when the case is not theirs to
        answer (not taken, or closed)."""
        if case.state != CaseState.WITH_AGENT:
            return False
        text = _within_limit(text)
        now = self._clock()
        kept = "" if self._privacy.restricts(case.customer.channel_id) else text
        await self._tell(case, replies.Reply(text), agent_reply=True)
        await self._note(case, lambda c: _heard(c, "agent", kept, now))
        return True

    async def agent_typing(self, case: Case) -> None:
        if case.state == CaseState.WITH_AGENT:
            with contextlib.suppress(ConnectionError, TimeoutError):
                await self._outbound.send(case.customer, {"type": "typing"})

    async def end(self, case_id: str) -> Case | None:
        """The agent is done: the bot takes over and asks whether it helped."""
        ended = await self._close(case_id, CaseState.ENDED, only_from=(CaseState.WITH_AGENT,))
        if ended is not None:
            name = ended.agent.name if ended.agent else "Our team"
            await self._tell(ended, replies.agent_left(name))
        return ended

    async def waiting_cases(self) -> list[tuple[int, Case]]:
        stored = (await self._documents.read([QUEUE_KEY])).get(QUEUE_KEY)
        ids = list(stored.data.get("waiting", [])) if stored else []
        found = await self._documents.read([case_key(i) for i in ids])
        cases = [Case.from_json(found[case_key(i)].data) for i in ids if case_key(i) in found]
        return list(enumerate(cases, start=1))

    async def case_for_thread(self, conversation_id: str) -> Case | None:
        key = _thread_key(conversation_id)
        stored = (await self._documents.read([key])).get(key)
        return await self.get(stored.data["case"]) if stored else None

    # --- a contact center's answers (HANDOFF_DESK=protocol) ----------------------------

    async def desk_accepted(self, case_id: str, agent: Agent) -> Case | None:
        now = self._clock()
        taken = await self._change(case_id, lambda c: _take(c, agent, now))
        if taken is not None:
            await self._change_queue(
                lambda ids: [i for i in ids if i != case_id], wait=taken.wait_seconds,
                live=lambda ids: [*ids, case_id],
            )  # fmt: skip
            self._emit(taken, EventName.HANDOFF_TAKEN, waitSeconds=taken.wait_seconds)
            log.info("case %s accepted by the contact center after %.0f s",
                     case_id, taken.wait_seconds or 0)  # fmt: skip
        return taken

    async def desk_failed(self, case_id: str) -> Case | None:
        return await self._close(case_id, CaseState.FAILED, only_from=(CaseState.WAITING,))

    async def desk_completed(self, case_id: str) -> Case | None:
        return await self._close(
            case_id, CaseState.ENDED, only_from=(CaseState.WITH_AGENT, CaseState.WAITING)
        )

    # --- time --------------------------------------------------------------------

    async def tick(self) -> None:
        """Times out the cases nobody took within the maximum wait, reminds the agents of
        those waiting longer than they should, and ends the cases where neither side has
        written for AGENT_IDLE (an agent who left without ending must not leave the
        customer with a silent bot). Any instance may run it at any time: each change is
        made once."""
        now = self._clock()
        for _, case in await self.waiting_cases():
            try:
                await self._tick_waiting(case, now)
            except (ConnectionError, TimeoutError) as error:
                log.warning("case %s: the customer or the desk was not told: %s", case.id, error)
        for case in await self._live_cases():
            if now - (case.last_message_at or case.taken_at or now) >= AGENT_IDLE:
                try:
                    await self.end(case.id)
                except (ConnectionError, TimeoutError) as error:
                    log.warning("case %s ended idle; the customer was not told: %s",
                                case.id, error)  # fmt: skip

    async def _tick_waiting(self, case: Case, now: datetime) -> None:
        waited = now - case.requested_at
        if waited >= self._max_wait:
            timed_out = await self._close(
                case.id, CaseState.TIMED_OUT, only_from=(CaseState.WAITING,)
            )
            if timed_out is not None:
                await self._tell(timed_out, replies.NOBODY_FREE)
        elif waited >= self._remind_after and case.reminded_at is None:
            reminded = await self._change(case.id, lambda c: _reminded(c, now))
            if reminded is not None:
                await self.desk.remind(reminded, int(waited.total_seconds() // 60))

    async def _live_cases(self) -> list[Case]:
        stored = (await self._documents.read([QUEUE_KEY])).get(QUEUE_KEY)
        ids = list(stored.data.get("live", [])) if stored else []
        found = await self._documents.read([case_key(i) for i in ids])
        return [Case.from_json(found[case_key(i)].data) for i in ids if case_key(i) in found]

    # --- inside ------------------------------------------------------------------

    def _emit(self, case: Case, name: EventName, **props: float | None) -> None:
        self._events(ConversationEvent(
            name, self._clock(), case.customer.channel_id, case.analytics_id or "unknown",
            conversation_pseudonym(case.customer.channel_id, case.customer.conversation_id),
            props=props,
        ))  # fmt: skip

    async def _close(
        self,
        case_id: str,
        state: CaseState,
        *,
        only_from: tuple[CaseState, ...] = (CaseState.WAITING, CaseState.WITH_AGENT),
        quiet: bool = False,
    ) -> Case | None:
        now = self._clock()
        closed = await self._change(case_id, lambda c: _close(c, state, now, only_from))
        if closed is None:
            return None

        def without(ids: list[str]) -> list[str]:
            return [i for i in ids if i != case_id]

        waiting, _ = await self._change_queue(without, live=without)
        # After an agent: how long they had it; never taken: how long it waited.
        log.info("case %s %s after %.0f s", case_id, state, _closing_seconds(closed) or 0)
        if state in _CLOSING_EVENTS:
            self._emit(closed, _CLOSING_EVENTS[state], seconds=_closing_seconds(closed))
        if not quiet:
            await self._desk_sees(closed)
            await self._tell_moves_up(waiting)
        return closed

    async def _desk_sees(self, case: Case) -> None:
        try:
            await self.desk.case_changed(case)
        except (ConnectionError, TimeoutError) as error:
            log.warning("case %s: the desk did not take the change: %s", case.id, error)

    async def _tell(self, case: Case, reply: replies.Reply, *, agent_reply: bool = False) -> None:
        """Sends `reply` on the customer's own channel, rendered for it."""
        customer = case.customer
        for activity in render(
            reply, customer.channel_id, customer.conversation_type, language=case.language
        ):
            if agent_reply:
                _tag_for_messenger(activity, case, self._clock())
            await self._outbound.send(case.customer, activity)

    async def _tell_moves_up(self, waiting: list[str]) -> None:
        for position, case_id in enumerate(waiting[:TELL_MOVES_UP_TO], start=1):
            case = await self._change(case_id, lambda c, p=position: _told(c, p))
            if case is None:
                continue
            try:
                await self._tell(case, replies.moved_up(position))
            except (ConnectionError, TimeoutError) as error:
                log.info("case %s: the move up was not told: %s", case_id, error)

    async def _change(self, case_id: str, change: Callable[[Case], bool]) -> Case | None:
        """Applies `change` to the stored case; None when it does not apply (returned
        False) or the case does not exist."""
        key = case_key(case_id)
        for attempt in range(WRITE_ATTEMPTS):
            stored = (await self._documents.read([key])).get(key)
            if stored is None:
                return None
            case = Case.from_json(stored.data)
            if not change(case):
                return None
            try:
                await self._documents.write(
                    {key: DocumentWrite(case.to_json(), if_match=stored.etag, ttl=CASE_TTL)}
                )
                return case
            except EtagConflict:
                await _back_off(attempt)
        raise StorageError(f"case {case_id} kept changing under this write")

    async def _note(self, case: Case, change: Callable[[Case], bool]) -> None:
        """A change to the case's record that must not fail what was already done."""
        try:
            await self._change(case.id, change)
        except StorageError as error:
            log.warning("case %s: a message was relayed but not added to the case: %s",
                        case.id, error)  # fmt: skip

    async def _change_queue(
        self,
        change: Callable[[list[str]], list[str]],
        wait: float | None = None,
        *,
        live: Callable[[list[str]], list[str]] = list,
    ) -> tuple[list[str], list[float]]:
        """Changes the waiting cases (and the live ones, with an agent); returns the
        waiting ones and the recent waits."""
        for attempt in range(WRITE_ATTEMPTS):
            stored = (await self._documents.read([QUEUE_KEY])).get(QUEUE_KEY)
            data = stored.data if stored else {}
            waiting = change(list(data.get("waiting", [])))
            with_agent = live(list(data.get("live", [])))
            waits = list(data.get("recentWaits", []))
            if wait is not None:
                waits = [*waits, wait][-RECENT_WAITS:]
            try:
                await self._documents.write({QUEUE_KEY: DocumentWrite(
                    {"waiting": waiting, "live": with_agent, "recentWaits": waits},
                    if_match=stored.etag if stored else None, create_only=stored is None,
                )})  # fmt: skip
                return waiting, waits
            except EtagConflict:
                await _back_off(attempt)
        raise StorageError("the hand-off queue kept changing under this write")

    async def _index_thread(self, case: Case) -> None:
        assert case.desk_thread is not None
        key = _thread_key(case.desk_thread.conversation_id)
        # The latest case of a thread answers on it: a contact center answers on the
        # customer's own conversation, where the customer may ask for a person again.
        await self._documents.write({key: DocumentWrite({"case": case.id}, ttl=CASE_TTL)})


async def _back_off(attempt: int) -> None:
    """After a lost race: a short random wait, longer each time, so writers spread out."""
    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))


def _new_id() -> str:
    return secrets.token_hex(8)


def case_key(case_id: str) -> str:
    return f"{CASE_PREFIX}{case_id}"


def _thread_key(conversation_id: str) -> str:
    # Teams' thread ids are long and full of ';' and ':': hashed into a key.
    return THREAD_PREFIX + hashlib.sha256(conversation_id.encode()).hexdigest()[:40]


_CLOSING_EVENTS = {
    CaseState.ENDED: EventName.HANDOFF_ENDED,
    CaseState.TIMED_OUT: EventName.HANDOFF_TIMED_OUT,
    CaseState.WITHDRAWN: EventName.HANDOFF_WITHDRAWN,
}


def _closing_seconds(case: Case) -> float | None:
    """Handling time for a case an agent had; the wait for one that never got an agent."""
    if case.closed_at is None:
        return None
    return (case.closed_at - (case.taken_at or case.requested_at)).total_seconds()


def _within_limit(text: str) -> str:
    if len(text) <= MAX_RELAYED_CHARS:
        return text
    return text[: MAX_RELAYED_CHARS - 20].rstrip() + " … (message cut)"


def _estimate(waits: list[float], position: int) -> int:
    per_place = statistics.median(waits) if waits else DEFAULT_WAIT_PER_PLACE.total_seconds()
    return max(1, math.ceil(per_place * position / 60))


def _placed(case: Case, placed: Case, position: int) -> bool:
    case.desk_thread = placed.desk_thread
    case.desk_card_id = placed.desk_card_id
    case.told_position = position
    case.record("requested", case.requested_at, position, case.reason.value)
    return True


def _heard(case: Case, sender: str, text: str, at: datetime) -> bool:
    """A message either way; its words are kept unless `text` is empty (not to be kept)."""
    if text:
        line = TranscriptLine(sender=sender, text=text[:TRANSCRIPT_TEXT_LIMIT], at=at)
        case.transcript = [*case.transcript, line][-TRANSCRIPT_LENGTH:]
    case.last_message_at = at
    if sender == "customer":
        case.customer_last_message_at = at
    return True


def _take(case: Case, agent: Agent, at: datetime) -> bool:
    if case.state != CaseState.WAITING:
        return False
    case.state = CaseState.WITH_AGENT
    case.agent = agent
    case.taken_at = at
    case.last_message_at = at
    case.record("taken", at, case.wait_seconds)
    return True


def _close(case: Case, state: CaseState, at: datetime, only_from: tuple[CaseState, ...]) -> bool:
    if case.state not in only_from:
        return False
    since = case.taken_at or case.requested_at
    case.state = state
    case.closed_at = at
    case.record(state.value, at, (at - since).total_seconds())
    return True


def _reminded(case: Case, at: datetime) -> bool:
    if case.state != CaseState.WAITING or case.reminded_at is not None:
        return False
    case.reminded_at = at
    case.record("reminded", at, (at - case.requested_at).total_seconds())
    return True


def _told(case: Case, position: int) -> bool:
    if case.state != CaseState.WAITING or case.told_position == position:
        return False
    case.told_position = position
    return True


def _solved(case: Case, solved: bool, at: datetime) -> bool:
    if case.solved is not None:
        return False
    case.solved = solved
    case.record("solved", at, 1 if solved else 0)
    return True


def _rated(case: Case, score: int, at: datetime) -> bool:
    if case.rating is not None:
        return False
    case.rating = score
    case.record("rated", at, score)
    return True


def _ticket(case: Case, reference: str, at: datetime) -> bool:
    case.record("ticket", at, detail=reference)
    return True


def _tag_for_messenger(activity: Json, case: Case, now: datetime) -> None:
    last = case.customer_last_message_at or case.requested_at
    if case.customer.channel_id == "facebook" and now - last > MESSENGER_WINDOW:
        data = activity.setdefault("channelData", {})
        data.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
