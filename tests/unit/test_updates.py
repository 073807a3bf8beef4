"""Unit ring: quiet hours, each channel's rules, the event contract, the outbox's index and
the sender's decisions, with a controllable clock and a stand-in channel."""

from __future__ import annotations

import asyncio
import json
import time as time_module
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels import replies
from channels.reference import ChannelRefused, ConversationRef
from customers.context import CustomerContext, Topic
from customers.identity import CONTEXT_PROPERTY, customer_key
from customers.stored import change_context, read_context
from notifications import sender as sender_module
from notifications import updates as updates_module
from notifications.order_events import BadEvent, fresh, parse
from notifications.outbox import DUE_PREFIX, Outbox, Update, UpdateState, update_id
from notifications.quiet_hours import QuietHours
from notifications.reach import MESSENGER_WINDOW, OPEN_CONVERSATION, destinations
from notifications.sender import (
    MAX_ATTEMPTS,
    SCAN_AFTER_FAILURE,
    SCAN_AT_LEAST_EVERY,
    SEND_LEASE,
    UpdateSender,
)
from notifications.updates import OrderEvent, Updates, followers_key, seen_key, unfollow
from services.demo_scheduling import DemoSchedulingService
from services.scheduling import AppointmentKind, BookingDetails
from state.documents import DocumentWrite, EtagConflict, StorageUnavailable
from state.memory_store import MemoryDocumentStore
from tests.conftest import NOW, MovableClock, YieldingStore

BERLIN = ZoneInfo("Europe/Berlin")
WEB = "webchat/web-1"
TEAMS = "msteams/aad/t/u"
FACEBOOK = "facebook/f-1"


def ref(channel: str, conversation_type: str | None = None) -> ConversationRef:
    return ConversationRef(channel_id=channel, service_url="https://example.net",
                           conversation_id=f"{channel}-c", user_id="u",
                           conversation_type=conversation_type)  # fmt: skip


# --- quiet hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-11-24T20:59", "2026-11-24T20:59"),
        ("2026-11-24T21:00", "2026-11-25T08:00"),
        ("2026-11-24T23:30", "2026-11-25T08:00"),
        ("2026-11-25T03:00", "2026-11-25T08:00"),
        ("2026-11-25T08:00", "2026-11-25T08:00"),
        # The night the clocks go back in Berlin: still 08:00 local.
        ("2026-10-24T22:00", "2026-10-25T08:00"),
    ],
)
def test_quiet_hours_across_midnight_end_at_8_local_time(local: str, allowed: str) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(UTC)
    result = QuietHours.parse("21:00-08:00").next_allowed(at, BERLIN)
    assert result.astimezone(BERLIN).replace(tzinfo=None) == datetime.fromisoformat(allowed)


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = QuietHours.parse("12:00-13:30")
    at = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
    assert lunch.next_allowed(at, UTC) == datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    assert QuietHours.parse("").next_allowed(at, UTC) == at
    # Quiet from the minute they start.
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert lunch.next_allowed(noon, UTC) == datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    # Half a span (built in code, not parsed) is no quiet hours, not an error.
    assert QuietHours(starts=time(21, 0)).next_allowed(at, UTC) == at
    assert QuietHours(ends=time(8, 0)).next_allowed(at, UTC) == at


def test_quiet_hours_read_as_they_are_written() -> None:
    assert str(QuietHours.parse(" 21:00 - 08:00 ")) == "21:00-08:00"
    assert str(QuietHours.parse("7:05-9:00")) == "07:05-09:00"
    assert str(QuietHours.parse("")) == "none"


@pytest.mark.parametrize("text", ["9pm-8am", "21:00", "25:00-08:00", "08:00-08:00", "21:60-08:00"])
def test_quiet_hours_that_are_not_a_span_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="21:00-08:00"):
        QuietHours.parse(text)


# --- where an update may go ----------------------------------------------------------


def test_the_most_recent_channel_that_may_be_written_to_comes_first() -> None:
    context = CustomerContext()
    context.reach = {WEB: ref("webchat"), TEAMS: ref("msteams", "personal"),
                     FACEBOOK: ref("facebook")}  # fmt: skip
    context.last_inbound_at = {
        WEB: NOW - timedelta(minutes=5),
        TEAMS: NOW - timedelta(days=3),
        FACEBOOK: NOW - timedelta(hours=30),
    }
    found = destinations(context, Topic.APPOINTMENT, NOW)
    assert [d.account for d in found] == [WEB, FACEBOOK, TEAMS]
    assert found[1].channel_data == {"messaging_type": "MESSAGE_TAG",
                                     "tag": "CONFIRMED_EVENT_UPDATE"}  # fmt: skip

    context.last_inbound_at[WEB] = NOW - timedelta(minutes=31)  # the page is closed
    assert [d.account for d in destinations(context, Topic.ORDER, NOW)] == [FACEBOOK, TEAMS]


def test_each_channels_limit_holds_to_the_minute_and_every_account_is_looked_at() -> None:
    context = CustomerContext()
    # Accounts that cannot be written to come first: the ones after are still looked at.
    context.reach = {
        "msteams/group": ref("msteams", "groupChat"), "webchat/never": ref("webchat"),
        WEB: ref("webchat"), FACEBOOK: ref("facebook"), TEAMS: ref("msteams"),
    }  # fmt: skip
    context.last_inbound_at = {
        "msteams/group": NOW,
        WEB: NOW - OPEN_CONVERSATION,  # open until this very minute
        FACEBOOK: NOW - MESSENGER_WINDOW,  # still within Messenger's 24 hours
        TEAMS: NOW - OPEN_CONVERSATION,  # as recent as the web page: both, in either order
    }
    found = destinations(context, Topic.ORDER, NOW)
    assert {d.account for d in found[:2]} == {WEB, TEAMS} and found[2].account == FACEBOOK
    assert found[2].channel_data == {"messaging_type": "UPDATE"}
    assert all(d.reference == context.reach[d.account] for d in found)
    assert next(d for d in found if d.account == WEB).channel_data == {}


def test_teams_only_in_a_personal_chat() -> None:
    context = CustomerContext()
    context.reach = {TEAMS: ref("msteams", "groupChat")}
    context.last_inbound_at = {TEAMS: NOW}
    assert destinations(context, Topic.ORDER, NOW) == []


# --- the event contract --------------------------------------------------------------


def event_body(**changes: object) -> bytes:
    body = {"eventId": "evt-1", "orderNumber": "123456", "status": "shipped",
            "eta": "2026-11-25T13:00:00+00:00", "occurredAt": NOW.isoformat()}  # fmt: skip
    body.update(changes)
    return json.dumps(body).encode()


def test_an_event_is_read_from_its_json() -> None:
    event = parse(event_body(status="  out for delivery  "))
    assert (event.event_id, event.order_number, event.status) == (
        "evt-1", "123456", "out for delivery",
    )  # fmt: skip
    assert event.eta == datetime(2026, 11, 25, 13, tzinfo=UTC)
    assert parse(event_body(eta=None)).eta is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (event_body(eventId="evt 1; drop"), "eventId"),
        (event_body(eventId="x" * 129), "eventId"),
        (event_body(orderNumber=123456), "orderNumber"),
        (event_body(status=""), "status"),
        (event_body(status="x" * 201), "status"),
        (event_body(occurredAt="yesterday"), "occurredAt"),
        (event_body(eta="2026-11-25T13:00:00"), "eta"),
    ],
)
def test_a_bad_event_says_which_field(body: bytes, named: str) -> None:
    with pytest.raises(BadEvent) as raised:
        parse(body)
    assert str(raised.value) == f"missing or invalid: {named}"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "the body is nested too deeply"),
        (b'["evt-1"]', "the body must be a JSON object"),
        (b"{}", "missing or invalid: eventId, occurredAt, orderNumber, status"),
        (event_body(status="", orderNumber="12"), "missing or invalid: orderNumber, status"),
    ],
)
def test_what_is_wrong_with_a_body_is_said_in_words(body: bytes, said: str) -> None:
    with pytest.raises(BadEvent) as raised:
        parse(body)
    assert str(raised.value) == said


def test_an_event_is_fresh_for_five_minutes_either_way() -> None:
    event = parse(event_body())
    assert fresh(event, NOW + timedelta(minutes=5))
    assert not fresh(event, NOW + timedelta(minutes=5, seconds=1))
    assert not fresh(event, NOW - timedelta(minutes=5, seconds=1))


# --- the outbox and the sender ---------------------------------------------------------


class Channel:
    """A stand-in connector: fails as told, then takes activities."""

    def __init__(self) -> None:
        self.sent: list[tuple[ConversationRef, dict]] = []
        self.failures: list[Exception] = []

    async def send(self, to: ConversationRef, activity: dict, *, retry: bool = True) -> str:
        assert retry is False  # the sender does its own retries
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((to, activity))
        return f"a{len(self.sent)}"


async def customer(documents: MemoryDocumentStore, customer_id: str, **fields: object) -> None:
    context = CustomerContext()
    context.reach = {TEAMS: ref("msteams", "personal")}
    context.last_inbound_at = {TEAMS: NOW}
    context.subscribe(Topic.ORDER, "123456", NOW, "msteams")
    for name, value in fields.items():
        setattr(context, name, value)
    data = {CONTEXT_PROPERTY: context.to_json()}
    await documents.write({customer_key(customer_id): DocumentWrite(data)})


def sender_for(
    documents: MemoryDocumentStore, outbox: Outbox, channel: Channel, clock: MovableClock,
    **options: object,
) -> UpdateSender:  # fmt: skip
    settings = {"quiet_hours": QuietHours(), "default_zone": UTC, "daily_limit": 5, **options}
    return UpdateSender(outbox, documents, channel, None, clock, **settings)  # type: ignore[arg-type]


async def order_update(outbox: Outbox, customer_id: str, event: str = "evt-1") -> Update:
    update = Update(
        id=update_id(customer_id, event), customer_id=customer_id, topic=Topic.ORDER,
        subject="123456", event=event, facts={"status": "shipped", "eta": None},
        created_at=NOW, not_before=NOW, expires_at=NOW + timedelta(days=3),
    )  # fmt: skip
    assert await outbox.put(update)
    return update


async def state_of(outbox: Outbox, update: Update) -> Update:
    return (await outbox.read([update.id]))[update.id][0]


async def test_timeouts_are_retried_with_growing_waits_then_given_up() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    sender = sender_for(documents, outbox, channel, clock)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    channel.failures = [TimeoutError()] * MAX_ATTEMPTS
    waits = []
    for _ in range(MAX_ATTEMPTS):
        clock.now = (await state_of(outbox, update)).not_before
        before = clock.now
        await sender.send_due()
        stored = await state_of(outbox, update)
        waits.append(stored.not_before - before)
    assert stored.state == UpdateState.FAILED and channel.sent == []
    assert waits[1] > waits[0] and waits[3] > waits[2]
    assert await outbox.pending() == 0


async def test_a_newer_event_supersedes_an_update_still_waiting() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    await customer(documents, "c-1")
    assert await updates.follow_order("c-1", "123456")
    first = OrderEvent("evt-1", "123456", "shipped", None, NOW)
    second = OrderEvent("evt-2", "123456", "out for delivery", None, NOW + timedelta(minutes=1))
    late = OrderEvent("evt-0", "123456", "being prepared", None, NOW - timedelta(minutes=1))
    assert await updates.order_changed(first) == 1
    assert await updates.order_changed(second) == 1
    assert await updates.order_changed(late) == 0  # older than what the customer will hear
    await sender_for(documents, outbox, channel, clock).send_due()
    assert [a["text"].split(":")[1].strip() for _, a in channel.sent] == [
        'it\'s now out for delivery. (Say "stop updates" to stop these.)'
    ]


async def test_the_daily_limit_holds_the_rest_until_tomorrow() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1", updates_sent={NOW.date().isoformat(): 2})
    update = await order_update(outbox, "c-1")
    await sender_for(documents, outbox, channel, clock, daily_limit=2).send_due()
    held = await state_of(outbox, update)
    assert channel.sent == [] and held.state == UpdateState.PENDING
    assert held.not_before == datetime(2026, 11, 25, tzinfo=UTC)


async def test_a_forgotten_customer_and_an_expired_update_are_dropped() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    sender = sender_for(documents, outbox, channel, clock)
    nobody = await order_update(outbox, "c-gone")
    await sender.send_due()
    assert (await state_of(outbox, nobody)).notes == ["the customer is forgotten"]
    await customer(documents, "c-1")
    old = await order_update(outbox, "c-1")
    clock.advance(timedelta(days=4))
    await sender.send_due()
    assert (await state_of(outbox, old)).notes == ["expired"]
    assert channel.sent == []


async def test_a_final_refusal_removes_the_channel_and_keeps_the_update_for_later() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    channel.failures = [ChannelRefused(404)]
    await sender_for(documents, outbox, channel, clock).send_due()
    context = await read_context(documents, "c-1")
    assert context is not None and context.reach == {}
    assert (await state_of(outbox, update)).state == UpdateState.PENDING


async def test_many_writers_to_the_due_index_lose_nothing() -> None:
    documents = MemoryDocumentStore()
    outbox = Outbox(documents)
    # Two instances (two outboxes over one store) add 400 updates at once.
    other = Outbox(documents)
    day = timedelta(days=1)
    added = [Update(id=update_id(f"c-{n}", "e"), customer_id=f"c-{n}", topic=Topic.ORDER,
                    subject="123456", event="e", created_at=NOW, not_before=NOW,
                    expires_at=NOW + day) for n in range(400)]  # fmt: skip
    await asyncio.gather(*((outbox if n % 2 else other).put(u) for n, u in enumerate(added)))
    due, _ = await outbox.due(NOW, 1000)
    assert sorted(due) == sorted(u.id for u in added)
    assert await outbox.pending() == 400


class IndexDownOnce:
    """The store, but the first write to the due index fails."""

    def __init__(self, documents: MemoryDocumentStore) -> None:
        self.documents = documents
        self.failed = False

    async def read(self, keys):  # type: ignore[no-untyped-def]
        return await self.documents.read(keys)

    async def write(self, writes):  # type: ignore[no-untyped-def]
        if not self.failed and any(key.startswith(DUE_PREFIX) for key in writes):
            self.failed = True
            raise StorageUnavailable("the store did not answer")
        return await self.documents.write(writes)


async def test_an_update_whose_listing_failed_is_listed_when_the_event_comes_again() -> None:
    documents = MemoryDocumentStore()
    outbox = Outbox(IndexDownOnce(documents))  # type: ignore[arg-type]
    update = Update(id=update_id("c-1", "e"), customer_id="c-1", topic=Topic.ORDER,
                    subject="123456", event="e", created_at=NOW, not_before=NOW,
                    expires_at=NOW + timedelta(days=1))  # fmt: skip
    with pytest.raises(StorageUnavailable):
        await outbox.put(update)  # the event is answered 503: the order system sends it again
    assert await outbox.pending() == 0
    assert not await outbox.put(update)  # already stored: not stored twice...
    assert await outbox.due(NOW, 10) == ([update.id], None)  # ...and now listed


async def test_a_retry_goes_at_its_time_not_at_the_next_scan() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    sender = sender_for(documents, outbox, channel, clock)
    await customer(documents, "c-1")
    await order_update(outbox, "c-1")
    channel.failures = [ConnectionError("the channel is unreachable")]
    await sender.tick()
    assert channel.sent == []
    clock.advance(timedelta(seconds=7))  # the first retry is 4 to 6 s later
    await sender.tick()
    assert len(channel.sent) == 1


async def test_updates_another_instance_is_sending_are_left_to_it() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    for n in range(3):
        update = await order_update(outbox, "c-1", event=f"evt-{n}")
        stored, etag = (await outbox.read([update.id]))[update.id]
        stored.lease_owner, stored.lease_until = "other", NOW + timedelta(seconds=60)
        await outbox.save(stored, etag)
    sender = sender_for(documents, outbox, channel, clock)
    assert await sender.send_due() == 0 and channel.sent == []
    clock.advance(timedelta(seconds=61))  # the other instance stopped: its leases ran out
    assert await sender.send_due() == 3


async def test_following_an_order_once_and_unfollowing_only_that_customer() -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    updates = Updates(documents, Outbox(documents), clock)
    assert await updates.follow_order("c-1", "123456")
    assert await updates.follow_order("c-1", "123456")  # already: listed once
    assert await updates.follow_order("c-2", "123456")
    key = followers_key("123456")
    assert (await documents.read([key]))[key].data["customers"] == ["c-1", "c-2"]
    await unfollow(documents, "123456", "c-3")  # never followed: nothing changes
    await unfollow(documents, "654321", "c-1")  # an order nobody follows
    assert await documents.read([followers_key("654321")]) == {}
    await unfollow(documents, "123456", "c-1")
    assert (await documents.read([key]))[key].data["customers"] == ["c-2"]
    # An event now reaches only who still follows.
    event = OrderEvent("evt-9", "123456", "shipped", None, NOW)
    assert await updates.order_changed(event) == 1
    assert await updates.order_changed(event) is None  # the same event: accepted once


async def test_an_event_for_many_followers_puts_one_update_each() -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    for n in range(5):
        await updates.follow_order(f"c-{n}", "123456")
    eta = NOW + timedelta(hours=3)
    assert await updates.order_changed(OrderEvent("evt-1", "123456", "shipped", eta, NOW)) == 5
    assert await outbox.pending() == 5
    update, _ = (await outbox.read([update_id("c-3", "order:evt-1")]))[
        update_id("c-3", "order:evt-1")
    ]
    assert (update.customer_id, update.topic, update.subject) == ("c-3", Topic.ORDER, "123456")
    assert update.facts == {"status": "shipped", "eta": eta.isoformat()}
    assert update.not_before == NOW and update.expires_at > NOW
    # An order nobody follows: accepted, nobody told.
    assert await updates.order_changed(OrderEvent("evt-2", "999999", "shipped", None, NOW)) == 0


async def test_the_outbox_gives_what_is_due_earliest_first_and_when_to_look_again() -> None:
    documents = MemoryDocumentStore()
    outbox = Outbox(documents)
    assert await outbox.due(NOW, 10) == ([], None)  # nothing at all
    minutes = [-3, -1, -2, 0, 5, 9]  # due that many minutes from now
    ids = []
    for n, offset in enumerate(minutes):
        update = await order_update(outbox, f"c-{n}", f"evt-{n}")
        update.not_before = NOW + timedelta(minutes=offset)
        await outbox.listed(update)
        ids.append(update.id)
    # All that are due (now included), earliest first; the next is the first one later.
    assert await outbox.due(NOW, 10) == (
        [ids[0], ids[2], ids[1], ids[3]], NOW + timedelta(minutes=5)
    )  # fmt: skip
    # A limit: the next due is the first one left out, even though it is due already.
    assert await outbox.due(NOW, 2) == ([ids[0], ids[2]], NOW - timedelta(minutes=1))
    # Exactly as many due as the limit: the next is the first later one.
    assert await outbox.due(NOW, 4) == ([ids[0], ids[2], ids[1], ids[3]],
                                        NOW + timedelta(minutes=5))  # fmt: skip
    everything = [ids[0], ids[2], ids[1], ids[3], ids[4], ids[5]]
    assert await outbox.due(NOW + timedelta(minutes=10), 10) == (everything, None)
    assert await outbox.due(NOW + timedelta(minutes=10), 6) == (everything, None)
    await outbox.unlist(ids[4])
    assert await outbox.pending() == 5
    assert ids[4] not in (await outbox.due(NOW + timedelta(minutes=10), 10))[0]


# --- the sender, decision by decision ----------------------------------------------------


async def test_a_sent_update_is_recorded_on_the_update_and_the_customer() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    assert await sender_for(documents, outbox, channel, clock).send_due() == 1
    [(to, activity)] = channel.sent
    assert to == ref("msteams", "personal")
    assert activity["text"].startswith("Update on your order 123456: it's now shipped.")
    sent = await state_of(outbox, update)
    assert (sent.state, sent.sent_on, sent.activity_id, sent.sent_at) == (
        UpdateState.SENT, "msteams", "a1", NOW,
    )  # fmt: skip
    assert sent.notes == ["sent on msteams"]
    assert await outbox.pending() == 0
    context = await read_context(documents, "c-1")
    assert context is not None and context.updates_sent == {NOW.date().isoformat(): 1}
    assert context.notified is not None
    assert (context.notified.topic, context.notified.subject, context.notified.at) == (
        Topic.ORDER, "123456", NOW,
    )  # fmt: skip


async def test_an_update_the_customer_no_longer_wants_is_dropped_and_the_order_unfollowed() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    await customer(documents, "c-1", subscriptions=[])
    await updates.follow_order("c-1", "123456")
    await updates.follow_order("c-2", "123456")
    update = await order_update(outbox, "c-1")
    await sender_for(documents, outbox, channel, clock).send_due()
    dropped = await state_of(outbox, update)
    assert (dropped.state, dropped.notes) == (UpdateState.DROPPED, ["unsubscribed"])
    key = followers_key("123456")
    assert (await documents.read([key]))[key].data["customers"] == ["c-2"]
    assert channel.sent == []


async def test_an_update_superseded_by_a_newer_event_is_dropped() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1", "evt-1")
    await documents.write({followers_key("123456"): DocumentWrite(
        {"customers": ["c-1"], "latestEvent": "evt-2"})})  # fmt: skip
    await sender_for(documents, outbox, channel, clock).send_due()
    dropped = await state_of(outbox, update)
    assert (dropped.state, dropped.notes) == (
        UpdateState.DROPPED, ["superseded by a newer update"],
    )  # fmt: skip


async def test_quiet_hours_and_closed_channels_hold_an_update_until_when_it_may_go() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    quiet = QuietHours.parse("09:00-11:00")  # NOW is 10:00 UTC
    await sender_for(documents, outbox, channel, clock, quiet_hours=quiet).send_due()
    held = await state_of(outbox, update)
    assert (held.state, held.not_before, held.notes) == (
        UpdateState.PENDING, NOW + timedelta(hours=1), ["held: quiet hours"],
    )  # fmt: skip
    # Then the only channel is a web page closed long ago: looked at again in five minutes.
    clock.now = NOW + timedelta(hours=1)
    await customer(documents, "c-1", reach={WEB: ref("webchat")},
                   last_inbound_at={WEB: NOW - timedelta(hours=2)})  # fmt: skip
    await sender_for(documents, outbox, channel, clock).send_due()
    held = await state_of(outbox, update)
    assert held.not_before == clock.now + timedelta(minutes=5)
    assert held.notes[-1] == "held: no channel may be written to now"
    assert channel.sent == []


async def test_a_429_waits_as_long_as_the_channel_asks_within_an_hour() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    channel.failures = [ChannelRefused(429, retry_after=120)]
    sender = sender_for(documents, outbox, channel, clock)
    await sender.send_due()
    waiting = await state_of(outbox, update)
    assert (waiting.state, waiting.not_before, waiting.notes) == (
        UpdateState.PENDING, NOW + timedelta(seconds=120), ["try 1 failed: 429"],
    )  # fmt: skip
    clock.now = waiting.not_before
    channel.failures = [ChannelRefused(429, retry_after=7200)]
    await sender.send_due()
    assert (await state_of(outbox, update)).not_before == clock.now + timedelta(hours=1)
    # Another refusal's Retry-After is not a 429's: the sender's own backoff (seconds).
    clock.now += timedelta(hours=1)
    channel.failures = [ChannelRefused(503, retry_after=7200)]
    await sender.send_due()
    retried = await state_of(outbox, update)
    assert retried.notes[-1] == "try 3 failed: 503"
    assert retried.not_before - clock.now < timedelta(minutes=1)


def test_a_channels_refusal_says_its_status_and_whether_it_is_final() -> None:
    assert str(ChannelRefused(403)) == "the channel answered 403"
    assert [status for status in (400, 403, 404, 429, 500) if ChannelRefused(status).final] == [
        403, 404,
    ]  # fmt: skip
    assert ChannelRefused(429, retry_after=30).retry_after == 30


def test_a_conversation_reference_is_stored_in_camel_case_without_unknowns() -> None:
    stored = ref("msteams", "personal").to_json()
    assert stored == {
        "channelId": "msteams", "serviceUrl": "https://example.net",
        "conversationId": "msteams-c", "userId": "u", "conversationType": "personal",
    }  # fmt: skip
    assert ConversationRef.model_validate(stored) == ref("msteams", "personal")


async def test_an_orders_eta_is_told_in_the_customers_time_zone() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    tokyo = CustomerContext().preferences.model_copy(update={"time_zone": "Asia/Tokyo"})
    await customer(documents, "c-1", preferences=tokyo)
    update = await order_update(outbox, "c-1")
    update.facts = {"status": "shipped", "eta": (NOW + timedelta(hours=3)).isoformat()}
    await outbox.save(update, (await outbox.read([update.id]))[update.id][1])
    await sender_for(documents, outbox, channel, clock).send_due()
    [(_, activity)] = channel.sent
    # 13:00 UTC is 10 PM in Tokyo, the same day there.
    assert "it's now shipped and expected by 10 PM today." in activity["text"]


async def test_an_appointment_reminder_goes_while_it_is_booked_and_is_dropped_once_not() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    scheduling = DemoSchedulingService(documents, clock)
    updates = Updates(documents, outbox, clock)
    sender = UpdateSender(outbox, documents, channel, scheduling, clock, quiet_hours=QuietHours(),
                          default_zone=UTC, daily_limit=5)  # fmt: skip
    kind, store = AppointmentKind.IN_STORE_REPAIR, "london-oxford-st"
    slots = await scheduling.free_slots(kind, store, NOW + timedelta(days=3), 2)
    kept = await scheduling.book("c-1", slots[0], BookingDetails())
    moved = await scheduling.book("c-1", slots[1], BookingDetails())
    await customer(documents, "c-1", subscriptions=[])
    for appointment in (kept, moved):
        start = appointment.slot.start
        await change_context(documents, "c-1", lambda c, ref=appointment.reference, at=start:
                             c.subscribe(Topic.APPOINTMENT, ref, at, "msteams"))  # fmt: skip
        assert await updates.remind("c-1", appointment.reference, start, "in-store repair",
                                    "at Oxford Street")  # fmt: skip
    later = await scheduling.free_slots(kind, store, NOW + timedelta(days=5), 1)
    await scheduling.reschedule(moved.reference, later[0])
    clock.now = slots[1].start - timedelta(days=1)  # both reminders are due, neither past
    await sender.send_due()
    [(_, activity)] = channel.sent
    assert activity["text"].startswith("Reminder: your in-store repair at Oxford Street is on ")
    assert "None" not in activity["text"] and activity["text"].endswith(
        f"(reference {kept.reference}). Can you still make it?"
    )
    assert f"(reference {kept.reference})" in activity["text"]
    reminders = {u.subject: u for u, _ in (await outbox.read(
        [update_id("c-1", f"reminder:{a.reference}:{a.slot.start.isoformat()}")
         for a in (kept, moved)])).values()}  # fmt: skip
    assert reminders[kept.reference].state == UpdateState.SENT
    assert (reminders[moved.reference].state, reminders[moved.reference].notes) == (
        UpdateState.DROPPED, ["the appointment was moved or cancelled"],
    )  # fmt: skip


async def test_on_messenger_an_update_carries_the_messaging_type_or_tag_it_needs() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    tagged = {"messaging_type": "MESSAGE_TAG", "tag": "POST_PURCHASE_UPDATE"}
    for hours, expected in ((2, {"messaging_type": "UPDATE"}), (30, tagged)):
        await customer(documents, f"c-{hours}", reach={FACEBOOK: ref("facebook")},
                       last_inbound_at={FACEBOOK: NOW - timedelta(hours=hours)})  # fmt: skip
        await order_update(outbox, f"c-{hours}", f"evt-{hours}")
        await sender_for(documents, outbox, channel, clock).send_due()
        (_, activity) = channel.sent[-1]
        assert activity["channelData"] == expected


async def test_an_update_is_written_in_the_customers_language() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    spanish = CustomerContext().preferences.model_copy(update={"language": "es"})
    await customer(documents, "c-1", preferences=spanish)
    await order_update(outbox, "c-1")
    await sender_for(documents, outbox, channel, clock).send_due()
    [(_, activity)] = channel.sent
    assert activity["text"] == (
        "Novedades de tu pedido 123456: ahora está enviado. "
        "(Di «no más avisos» para dejar de recibirlos.)"
    )


async def test_a_defect_while_sending_is_logged_and_the_update_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    channel.failures = [RuntimeError("a bug in a channel adapter")]
    await sender_for(documents, outbox, channel, clock).send_due()
    retried = await state_of(outbox, update)
    assert (retried.state, retried.notes) == (
        UpdateState.PENDING, ["try 1 failed: unexpected error"],
    )  # fmt: skip
    assert retried.lease_owner is None and retried.not_before > NOW
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == f"update {update.id}: unexpected error while sending"
    assert record.exc_info is not None


# --- the sender at its edges ----------------------------------------------------------------


async def test_an_update_is_dropped_at_the_moment_it_expires_not_a_moment_before() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    clock.now = update.expires_at
    await sender_for(documents, outbox, channel, clock).send_due()
    assert (await state_of(outbox, update)).notes == ["expired"] and channel.sent == []
    await customer(documents, "c-2")
    fresh_one = await order_update(outbox, "c-2")
    clock.now = fresh_one.expires_at - timedelta(seconds=1)
    await sender_for(documents, outbox, channel, clock).send_due()
    assert (await state_of(outbox, fresh_one)).state == UpdateState.SENT


async def test_held_until_its_expiry_is_dropped_and_a_hold_is_noted_once() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1", updates_sent={NOW.date().isoformat(): 1})
    update = await order_update(outbox, "c-1")
    sender = sender_for(documents, outbox, channel, clock, daily_limit=1)
    await sender.send_due()
    held = await state_of(outbox, update)
    assert held.notes == ["held: daily limit reached"]
    # Tomorrow's limit is the same: the note is not repeated, the hold moves on.
    await customer(documents, "c-1", updates_sent={"2026-11-25": 1})
    clock.now = held.not_before
    await sender.send_due()
    again = await state_of(outbox, update)
    assert again.notes == ["held: daily limit reached"]
    assert again.not_before == datetime(2026, 11, 26, tzinfo=UTC)
    # Held to exactly the moment it expires: dropped, saying why.
    await customer(documents, "c-2", updates_sent={NOW.date().isoformat(): 1})
    short = Update(
        id=update_id("c-2", "e"), customer_id="c-2", topic=Topic.ORDER, subject="123456",
        event="e", facts={"status": "shipped"}, created_at=NOW, not_before=NOW,
        expires_at=datetime(2026, 11, 25, tzinfo=UTC),
    )  # fmt: skip
    assert await outbox.put(short)
    clock.now = NOW
    await sender.send_due()
    assert (await state_of(outbox, short)).notes == ["daily limit reached until it expired"]
    assert (await state_of(outbox, short)).state == UpdateState.DROPPED


async def test_the_daily_limit_counts_only_todays_updates_in_utc() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1", updates_sent={"2026-11-23": 1})  # yesterday's
    update = await order_update(outbox, "c-1")
    await sender_for(documents, outbox, channel, clock, daily_limit=1).send_due()
    assert (await state_of(outbox, update)).state == UpdateState.SENT
    context = await read_context(documents, "c-1")
    assert context is not None and context.updates_sent["2026-11-24"] == 1


async def test_a_forgotten_customers_order_is_unfollowed_for_them() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    for who in ("c-gone", "c-2"):
        await customer(documents, who)
        assert await updates.follow_order(who, "123456")
    await documents.delete([customer_key("c-gone")])
    await order_update(outbox, "c-gone")
    await sender_for(documents, outbox, channel, clock).send_due()
    followers = (await documents.read([followers_key("123456")]))[followers_key("123456")]
    assert "c-gone" not in str(followers.data) and "c-2" in str(followers.data)


@pytest.mark.parametrize(
    ("zone", "held_until"),
    [
        ("Asia/Tokyo", datetime(2026, 11, 24, 23, 0, tzinfo=UTC)),  # 08:00 in Tokyo
        ("Mars/Olympus", None),  # not a zone: the default (UTC), where it is day
        (None, None),
    ],
)
async def test_quiet_hours_are_the_customers_own(zone: str | None, held_until: object) -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    context = CustomerContext()
    context.preferences.time_zone = zone
    await customer(documents, "c-1", preferences=context.preferences)
    update = await order_update(outbox, "c-1")
    clock.now = NOW + timedelta(hours=3)  # 13:00 UTC, 22:00 in Tokyo
    quiet = QuietHours(time(21), time(8))
    await sender_for(documents, outbox, channel, clock, quiet_hours=quiet).send_due()
    stored = await state_of(outbox, update)
    if held_until is None:
        assert stored.state == UpdateState.SENT
    else:
        assert stored.not_before == held_until and stored.notes == ["held: quiet hours"]


async def test_each_wait_after_a_failure_doubles_within_a_fifth_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    sender = sender_for(documents, outbox, channel, clock)
    for jitter, expected in ((0.8, [4, 8, 16, 32, 64, 128, 256]), (1.2, [6, 12, 24, 48])):
        monkeypatch.setattr(sender_module.random, "uniform", lambda low, high, j=jitter: (
            j if (low, high) == (0.8, 1.2) else pytest.fail("not the jitter")))  # fmt: skip
        waits = []
        for _ in expected:
            channel.failures = [ConnectionError("reset")]
            clock.now = (await state_of(outbox, update)).not_before
            before = clock.now
            await sender.send_due()
            waits.append((await state_of(outbox, update)).not_before - before)
        assert waits == [timedelta(seconds=s) for s in expected]
        stored = await state_of(outbox, update)
        assert stored.notes[-1] == f"try {stored.attempts} failed: ConnectionError"
        if jitter == 0.8:  # start again from the first try
            stored.attempts = 0
            await outbox.save(stored, (await outbox.read([update.id]))[update.id][1])


async def test_the_longest_wait_is_ten_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Eight tries never wait that long; a deployment allowing more tries would.
    monkeypatch.setattr(sender_module, "MAX_ATTEMPTS", 20)
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    stored = await state_of(outbox, update)
    stored.attempts = 9  # 5 s doubled nine times is over 40 minutes
    await outbox.save(stored, (await outbox.read([update.id]))[update.id][1])
    channel.failures = [TimeoutError()]
    await sender_for(documents, outbox, channel, clock).send_due()
    wait = (await state_of(outbox, update)).not_before - NOW
    assert timedelta(minutes=8) <= wait <= timedelta(minutes=12)


async def test_what_happened_to_an_update_is_logged_once_it_is_settled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", "notifications.sender")
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    channel.failures = [TimeoutError()]
    sender = sender_for(documents, outbox, channel, clock)
    await sender.send_due()
    assert f"update {update.id}" not in caplog.text  # still pending: nothing settled
    clock.now = (await state_of(outbox, update)).not_before
    await sender.send_due()
    assert [r.getMessage() for r in caplog.records] == [
        f"update {update.id}: sent (sent on msteams)"
    ]


async def test_a_sent_update_the_store_cannot_count_is_not_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class CustomersDown(MemoryDocumentStore):
        down = False

        async def write(self, writes):  # type: ignore[no-untyped-def]
            if self.down and any(key == customer_key("c-1") for key in writes):
                raise StorageUnavailable("the database is down")
            return await super().write(writes)

    documents, clock, channel = CustomersDown(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    documents.down = True
    sender = sender_for(documents, outbox, channel, clock)
    await sender.send_due()
    assert [r.getMessage() for r in caplog.records] == [
        f"update {update.id} sent, but not counted: the database is down"]  # fmt: skip
    assert (await state_of(outbox, update)).state == UpdateState.SENT
    clock.advance(timedelta(minutes=5))
    await sender.send_due()
    assert len(channel.sent) == 1


async def test_an_update_held_past_its_lease_is_left_to_the_instance_that_took_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    other = sender_for(documents, outbox, Channel(), clock)

    class Slow(Channel):
        async def send(self, to, activity, *, retry=True):  # type: ignore[no-untyped-def]
            # While this instance sends, its lease runs out and another instance sends it.
            clock.advance(SEND_LEASE + timedelta(seconds=1))
            await other.send_due()
            return await super().send(to, activity, retry=retry)

    await sender_for(documents, outbox, Slow(), clock).send_due()
    assert f"update {update.id}: lease ran out while it was being sent" in [
        r.getMessage() for r in caplog.records]  # fmt: skip
    stored = await state_of(outbox, update)
    assert stored.state == UpdateState.SENT and stored.lease_owner is None


async def test_a_sender_looks_at_the_outbox_only_when_something_may_be_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    looked: list[datetime] = []
    real_due = outbox.due

    async def due(now: datetime, limit: int):  # type: ignore[no-untyped-def]
        looked.append(now)
        if len(looked) == 3:
            raise StorageUnavailable("the database is down")
        return await real_due(now, limit)

    monkeypatch.setattr(outbox, "due", due)
    sender = sender_for(documents, outbox, Channel(), clock)
    await sender.tick()
    await sender.tick()  # nothing added, nothing due: not looked at again
    assert len(looked) == 1
    clock.advance(SCAN_AT_LEAST_EVERY)
    await sender.tick()  # other instances add updates too: looked at every so often
    assert len(looked) == 2
    outbox.added.set()  # this instance added one
    with pytest.raises(StorageUnavailable):
        await sender.tick()
    clock.advance(SCAN_AFTER_FAILURE - timedelta(seconds=1))
    await sender.tick()  # a store that is down is not asked on every tick
    assert len(looked) == 3
    clock.advance(timedelta(seconds=1))
    await sender.tick()
    assert len(looked) == 4


async def test_a_spanish_customers_reminder_remembers_the_choices_as_they_saw_them() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    scheduling = DemoSchedulingService(documents, clock)
    sender = UpdateSender(outbox, documents, channel, scheduling, clock, quiet_hours=QuietHours(),
                          default_zone=UTC, daily_limit=5)  # fmt: skip
    kind, store = AppointmentKind.IN_STORE_REPAIR, "london-oxford-st"
    [slot] = await scheduling.free_slots(kind, store, NOW + timedelta(days=3), 1)
    booked = await scheduling.book("c-1", slot, BookingDetails())
    context = CustomerContext()
    context.preferences.language = "es"
    await customer(documents, "c-1", subscriptions=[], preferences=context.preferences)
    await change_context(documents, "c-1", lambda c: c.subscribe(
        Topic.APPOINTMENT, booked.reference, slot.start, "msteams"))  # fmt: skip
    updates = Updates(documents, outbox, clock)
    assert await updates.remind("c-1", booked.reference, slot.start, "in-store repair", "here")
    clock.now = slot.start - timedelta(days=1)
    await sender.send_due()
    stored = await read_context(documents, "c-1")
    assert stored is not None and stored.notified is not None
    assert stored.notified.choices == ["Keep it", "Move it", "Cancel it"]
    shown = [a["value"] for a in channel.sent[0][1]["suggestedActions"]["actions"]]
    assert stored.notified.shown == shown and shown != stored.notified.choices


# --- the outbox and the followers' list under concurrency -------------------------------------


async def test_an_update_saved_over_a_stale_read_is_refused_and_a_settled_one_expires() -> None:
    now = [NOW.timestamp()]
    documents = MemoryDocumentStore(clock=lambda: now[0])
    outbox = Outbox(documents)
    update = await order_update(outbox, "c-1")
    stored, etag = (await outbox.read([update.id]))[update.id]
    stored.note("first")
    await outbox.save(stored, etag)
    stored.note("second, over a stale read")
    with pytest.raises(EtagConflict):
        await outbox.save(stored, etag)
    # Pending, it is kept however long it waits; settled, for a week.
    now[0] += 30 * 24 * 3600
    stored, etag = (await outbox.read([update.id]))[update.id]
    stored.state = UpdateState.SENT
    await outbox.save(stored, etag)
    now[0] += 7 * 24 * 3600 - 1
    assert (await outbox.read([update.id])).get(update.id) is not None
    now[0] += 1
    assert (await outbox.read([update.id])).get(update.id) is None


def test_an_update_keeps_its_last_ten_notes() -> None:
    update = Update(id="u", customer_id="c", topic=Topic.ORDER, subject="1", event="e",
                    created_at=NOW, not_before=NOW, expires_at=NOW)  # fmt: skip
    for n in range(12):
        update.note(f"note {n}")
    assert update.notes == [f"note {n}" for n in range(2, 12)]


async def test_customers_unfollowing_one_order_at_once_all_come_off_it() -> None:
    documents, clock = YieldingStore(), MovableClock()
    updates = Updates(documents, Outbox(documents), clock)
    customers = [f"c-{n}" for n in range(6)]
    for who in customers:
        assert await updates.follow_order(who, "123456")
    await asyncio.gather(*(unfollow(documents, "123456", who) for who in customers[:5]))
    followers = (await documents.read([followers_key("123456")]))[followers_key("123456")]
    assert followers.data["customers"] == ["c-5"]
    await unfollow(documents, "123456", "c-9")  # not following: nothing changes
    await unfollow(documents, "654321", "c-5")  # nobody follows that order
    assert (await documents.read([followers_key("654321")])) == {}


async def test_events_for_one_order_at_once_leave_the_latest_as_latest() -> None:
    documents, clock = YieldingStore(), MovableClock()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    assert await updates.follow_order("c-1", "123456")
    events = [OrderEvent(f"evt-{n}", "123456", f"status {n}", None, NOW + timedelta(minutes=n))
              for n in range(5)]  # fmt: skip
    await asyncio.gather(*(updates.order_changed(event) for event in reversed(events)))
    followers = (await documents.read([followers_key("123456")]))[followers_key("123456")]
    assert followers.data["latestEvent"] == "evt-4"
    assert followers.data["customers"] == ["c-1"]
    # Two events of the same moment: both are told.
    same = OrderEvent("evt-same", "123456", "again", None, NOW + timedelta(minutes=4))
    assert await updates.order_changed(same) == 1


async def test_an_event_is_remembered_a_day_and_a_follow_twice_is_listed_once() -> None:
    now = [NOW.timestamp()]
    documents, clock = MemoryDocumentStore(clock=lambda: now[0]), MovableClock()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    assert await updates.follow_order("c-1", "123456")
    assert await updates.follow_order("c-1", "123456")
    followers = (await documents.read([followers_key("123456")]))[followers_key("123456")]
    assert followers.data["customers"] == ["c-1"]
    event = OrderEvent("evt-1", "123456", "shipped", None, NOW)
    assert await updates.order_changed(event) == 1
    seen = (await documents.read([seen_key("evt-1")]))[seen_key("evt-1")]
    assert seen.data == {"orderNumber": "123456", "at": NOW.isoformat()}
    assert len(seen_key("evt-1")) == len("order-events/") + 40
    now[0] += 24 * 3600 - 1
    assert await updates.order_changed(event) is None
    now[0] += 1
    # Accepted again, but the customer's update for it is the one already in the outbox.
    assert await updates.order_changed(event) == 1
    assert await outbox.pending() == 1


async def test_an_order_followed_by_as_many_as_allowed_takes_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates_module, "MAX_FOLLOWERS", 3)
    documents, clock = MemoryDocumentStore(), MovableClock()
    updates = Updates(documents, Outbox(documents), clock)
    assert [await updates.follow_order(f"c-{n}", "123456") for n in range(4)] == [
        True, True, True, False]  # fmt: skip
    assert await updates.follow_order("c-0", "123456")  # already following
    assert await updates.order_changed(OrderEvent("e", "123456", "shipped", None, NOW)) == 3


async def test_after_a_channel_refuses_for_good_the_next_one_gets_the_update_and_both_are_kept(
) -> None:  # fmt: skip
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1", reach={TEAMS: ref("msteams", "personal"),
                                            WEB: ref("webchat")},
                   last_inbound_at={TEAMS: NOW, WEB: NOW - timedelta(minutes=1)})  # fmt: skip
    update = await order_update(outbox, "c-1")
    channel.failures = [ChannelRefused(403)]  # the Teams app was removed
    await sender_for(documents, outbox, channel, clock).send_due()
    sent = await state_of(outbox, update)
    assert (sent.state, sent.sent_on) == (UpdateState.SENT, "webchat")
    assert sent.notes == ["403 from msteams", "sent on webchat"]
    context = await read_context(documents, "c-1")
    assert context is not None and list(context.reach) == [WEB]  # Teams stays dropped
    assert context.updates_sent == {NOW.date().isoformat(): 1}


async def test_the_daily_count_is_the_utc_day_whatever_the_servers_own_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    try:
        documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
        outbox = Outbox(documents)
        clock.now = NOW.replace(hour=20)  # 05:00 tomorrow in Tokyo
        await customer(documents, "c-1", updates_sent={"2026-11-25": 1})  # Tokyo's date
        update = await order_update(outbox, "c-1")
        await sender_for(documents, outbox, channel, clock, daily_limit=1).send_due()
        assert (await state_of(outbox, update)).state == UpdateState.SENT
        context = await read_context(documents, "c-1")
        assert context is not None and context.updates_sent["2026-11-24"] == 1
    finally:
        monkeypatch.undo()  # the server's own zone back, before anything else reads it
        time_module.tzset()


async def test_the_sender_says_how_many_it_took_and_leases_each_for_a_minute() -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    seen: list[Update] = []

    class Watching(Channel):
        async def send(self, to, activity, *, retry=True):  # type: ignore[no-untyped-def]
            seen.append((await outbox.read([update.id]))[update.id][0])
            return await super().send(to, activity, retry=retry)

    sender = sender_for(documents, outbox, Watching(), clock)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0  # nothing due
    await order_update(outbox, "c-1", event="evt-2")
    assert await sender.send_due() == 1  # this call's, not all it ever took
    leased = seen[0]
    assert leased.lease_until == NOW + SEND_LEASE and leased.lease_owner


async def test_a_lease_that_ends_now_has_ended() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    stored, etag = (await outbox.read([update.id]))[update.id]
    stored.lease_owner, stored.lease_until = "other", NOW
    await outbox.save(stored, etag)
    assert await sender_for(documents, outbox, channel, clock).send_due() == 1


async def test_two_senders_at_once_send_each_update_once() -> None:
    documents, clock, channel = YieldingStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    for n in range(3):
        await order_update(outbox, "c-1", event=f"evt-{n}")
    senders = [sender_for(documents, outbox, channel, clock) for _ in range(2)]
    taken = await asyncio.gather(*(sender.send_due() for sender in senders))
    assert sum(taken) == 3 and len(channel.sent) == 3


async def test_the_index_lets_go_of_updates_that_are_settled_or_gone() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    settled = await order_update(outbox, "c-1", event="evt-1")
    stored, etag = (await outbox.read([settled.id]))[settled.id]
    stored.state = UpdateState.SENT  # sent by an instance that stopped before unlisting it
    await outbox.save(stored, etag)
    gone = await order_update(outbox, "c-1", event="evt-2")
    await documents.delete([f"outbox/{gone.id}"])  # its time to live ran out
    assert await sender_for(documents, outbox, channel, clock).send_due() == 0
    assert channel.sent == [] and await outbox.due(NOW, 10) == ([], None)


async def test_a_delivery_that_hangs_is_cut_short_and_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender_module, "DELIVERY_DEADLINE", 0.05)
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")

    class Hanging(Channel):
        async def send(self, to, activity, *, retry=True):  # type: ignore[no-untyped-def]
            await asyncio.sleep(3600)

    await sender_for(documents, outbox, Hanging(), clock).send_due()
    stored = await state_of(outbox, update)
    assert stored.state == UpdateState.PENDING and stored.notes == ["try 1 failed: TimeoutError"]


async def test_an_update_due_before_the_next_scan_is_looked_at_when_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    later = Update(
        id=update_id("c-1", "later"), customer_id="c-1", topic=Topic.ORDER, subject="123456",
        event="later", facts={"status": "shipped"}, created_at=NOW,
        not_before=NOW + timedelta(seconds=10), expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    assert await outbox.put(later)
    sender = sender_for(documents, outbox, channel, clock)
    await sender.tick()
    assert channel.sent == []
    clock.advance(timedelta(seconds=10))  # well before the 30 s scan
    outbox.added.clear()
    await sender.tick()
    assert len(channel.sent) == 1
    looked: list[datetime] = []
    real_due = outbox.due

    async def due(now: datetime, limit: int):  # type: ignore[no-untyped-def]
        looked.append(now)
        return await real_due(now, limit)

    monkeypatch.setattr(outbox, "due", due)
    await sender.tick()  # just sent, nothing else due: not looked at again at once
    assert looked == []


async def test_an_update_without_a_status_says_what_it_has() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    bare = Update(
        id=update_id("c-1", "bare"), customer_id="c-1", topic=Topic.ORDER, subject="123456",
        event="bare", facts={}, created_at=NOW, not_before=NOW,
        expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    assert await outbox.put(bare)
    await sender_for(documents, outbox, channel, clock).send_due()
    [(_, activity)] = channel.sent
    assert activity["text"] == replies.order_update("123456", "", None, NOW).text


async def test_an_order_with_two_followers_tells_both() -> None:
    documents, clock = MemoryDocumentStore(), MovableClock()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    for who in ("c-1", "c-2"):
        assert await updates.follow_order(who, "123456")
    assert await updates.order_changed(OrderEvent("e", "123456", "shipped", None, NOW)) == 2
    assert await outbox.pending() == 2


async def test_the_same_event_posted_twice_at_once_is_accepted_once() -> None:
    documents, clock = YieldingStore(), MovableClock()
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    assert await updates.follow_order("c-1", "123456")
    event = OrderEvent("e", "123456", "shipped", None, NOW)
    results = await asyncio.gather(updates.order_changed(event), updates.order_changed(event))
    assert sorted(results, key=str) == [1, None]
    assert await outbox.pending() == 1


async def test_an_event_whose_order_changed_meanwhile_is_still_told() -> None:
    class OneConflict(MemoryDocumentStore):
        conflicts = 1

        async def write(self, writes):  # type: ignore[no-untyped-def]
            if self.conflicts and followers_key("123456") in writes:
                self.conflicts -= 1
                raise EtagConflict("another event for the order")
            return await super().write(writes)

    documents, clock = OneConflict(), MovableClock()
    documents.conflicts = 0
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    assert await updates.follow_order("c-1", "123456")
    documents.conflicts = 1
    assert await updates.order_changed(OrderEvent("e", "123456", "shipped", None, NOW)) == 1
    followers = (await documents.read([followers_key("123456")]))[followers_key("123456")]
    assert followers.data["latestEvent"] == "e"


async def test_an_update_put_off_since_it_was_listed_is_listed_again_at_its_new_time() -> None:
    documents, clock, channel = MemoryDocumentStore(), MovableClock(), Channel()
    outbox = Outbox(documents)
    await customer(documents, "c-1")
    update = await order_update(outbox, "c-1")
    stored, etag = (await outbox.read([update.id]))[update.id]
    stored.not_before = NOW + timedelta(hours=1)  # put off by an instance that then stopped
    await outbox.save(stored, etag)
    assert await sender_for(documents, outbox, channel, clock).send_due() == 0
    assert channel.sent == []
    assert await outbox.due(NOW, 10) == ([], NOW + timedelta(hours=1))
