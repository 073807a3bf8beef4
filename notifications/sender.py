"""The sender: takes due updates from the outbox and delivers each once.

Each update is leased (an etag'd write naming this instance) before it is sent, so two
instances never both send it; a lease left by an instance that stopped runs out and
another sends it. Before sending, the update is checked against what is true now: still
subscribed, not superseded by a newer update, the appointment still at that time, not
in the customer's quiet hours, under the daily limit. Then it goes to the channel the
customer used last that may be written to now (notifications/reach.py); a channel that
says it never can again (403, 404) is dropped from the customer's context and the next
one is tried. Failures that may pass (5xx, 429, timeouts) are tried again later with
growing waits, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels import replies
from channels.reference import ChannelRefused, ConversationRef
from channels.render import render
from channels.text import localize
from customers.context import CustomerContext, Notified, Topic
from customers.stored import change_context, context_of, read_contexts
from notifications.outbox import Outbox, Update, UpdateState
from notifications.quiet_hours import QuietHours
from notifications.reach import Destination, destinations
from notifications.updates import followers_key, unfollow
from services.scheduling import (
    Appointment,
    AppointmentNotFound,
    AppointmentStatus,
    SchedulingService,
    SchedulingUnavailable,
)
from state.documents import DocumentStore, EtagConflict, StorageError, StoredDocument

log = logging.getLogger(__name__)

Json = dict[str, Any]

# How long an instance holds an update it is sending: longer than a delivery can take.
SEND_LEASE = timedelta(seconds=60)
# One update's checks and delivery, at most (a connector call is 4 s a try).
DELIVERY_DEADLINE = 30.0
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=10)
LONGEST_RETRY_AFTER = timedelta(hours=1)
# With no channel open to the customer, look again this often (until the update expires).
RECHECK_CLOSED = timedelta(minutes=5)
BATCH = 500
CONCURRENCY = 64
# Other instances add updates too: the index is read at least this often.
SCAN_AT_LEAST_EVERY = timedelta(seconds=30)
SCAN_AFTER_FAILURE = timedelta(seconds=10)


class Channels(Protocol):
    async def send(self, to: ConversationRef, activity: Json, *, retry: bool = True) -> str:
        """The id the channel gave the activity; ChannelRefused or ConnectionError."""
        ...


class UpdateSender:
    def __init__(
        self,
        outbox: Outbox,
        documents: DocumentStore,
        channels: Channels,
        scheduling: SchedulingService,
        clock: Callable[[], datetime],
        *,
        quiet_hours: QuietHours,
        default_zone: tzinfo,
        daily_limit: int,
    ) -> None:
        self._outbox = outbox
        self._documents = documents
        self._channels = channels
        self._scheduling = scheduling
        self._clock = clock
        self._quiet_hours = quiet_hours
        self._default_zone = default_zone
        self._daily_limit = daily_limit
        self._owner = secrets.token_hex(8)
        self._next_scan: datetime | None = None
        self._taken = 0  # updates this instance leased, ever
        self._sending = asyncio.Semaphore(CONCURRENCY)

    async def tick(self) -> None:
        """What the background task runs: due updates, when any may be."""
        now = self._clock()
        if (
            self._next_scan is not None
            and now < self._next_scan
            and not self._outbox.added.is_set()
        ):
            return
        self._outbox.added.clear()
        try:
            while await self.send_due() == BATCH:  # a full batch taken: there may be more
                pass
        except StorageError:
            # The store is down: look again in a while, not on every tick, so a store that
            # hangs is not also flooded.
            self._next_scan = now + SCAN_AFTER_FAILURE
            raise

    async def send_due(self) -> int:
        """Handles up to BATCH due updates; how many this instance took (the others were
        being sent by another instance, or are not due after all)."""
        now = self._clock()
        ids, next_at = await self._outbox.due(now, BATCH)
        self._next_scan = min([now + SCAN_AT_LEAST_EVERY, *([next_at] if next_at else [])])
        if not ids:
            return 0
        found = await self._outbox.read(ids)
        for gone in set(ids) - set(found):  # forgotten (its time to live ran out)
            await self._outbox.unlist(gone)
        # Every customer and order of the batch in one read each (read again if one
        # changes meanwhile).
        updates = [update for update, _ in found.values()]
        contexts = await read_contexts(self._documents, {u.customer_id for u in updates})
        orders = {followers_key(u.subject) for u in updates if u.topic == Topic.ORDER}
        latest = {key: stored.data.get("latestEvent")
                  for key, stored in (await self._documents.read(orders)).items()}  # fmt: skip
        work = iter(found.values())

        async def worker() -> None:  # a few workers share the batch: not a task an update
            for update, etag in work:
                await self._handle(update, etag, contexts.get(update.customer_id),
                                   latest.get(followers_key(update.subject)))  # fmt: skip

        taken = self._taken
        await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(found)))))
        # An update tried again soon (a retry in 5 s) is looked at then, not at the next scan.
        waiting = [u.not_before for u in updates if u.state == UpdateState.PENDING]
        self._next_scan = min([self._next_scan, *waiting])
        return self._taken - taken

    async def _handle(
        self, update: Update, etag: str, customer: StoredDocument | None, latest: str | None
    ) -> None:
        async with self._sending:
            now = self._clock()
            if update.state != UpdateState.PENDING:
                await self._outbox.listed(update)
                return
            if update.lease_until is not None and update.lease_until > now:
                return  # another instance is sending it
            if update.not_before > now:
                await self._outbox.listed(update)
                return
            update.lease_owner, update.lease_until = self._owner, now + SEND_LEASE
            try:
                etag = await self._outbox.save(update, etag)
            except EtagConflict:
                return  # another instance took it first
            self._taken += 1
            try:
                async with asyncio.timeout(DELIVERY_DEADLINE):
                    await self._deliver(update, now, customer, latest)
            except (StorageError, SchedulingUnavailable, TimeoutError, ConnectionError) as error:
                self._retry(update, now, type(error).__name__)
            except Exception:  # a defect: logged, and the update tried again later
                log.exception("update %s: unexpected error while sending", update.id)
                self._retry(update, now, "unexpected error")
            update.lease_owner = update.lease_until = None
            try:
                await self._outbox.save(update, etag)
            except EtagConflict:
                # Held past its lease and taken by another instance: that one decides.
                log.warning("update %s: lease ran out while it was being sent", update.id)
                return
            await self._outbox.listed(update)
            if update.state != UpdateState.PENDING:
                log.info("update %s: %s (%s)", update.id, update.state.value, update.notes[-1])

    async def _deliver(
        self, update: Update, now: datetime, customer: StoredDocument | None, latest: str | None
    ) -> None:
        """Sends the update, or decides why not and until when (it changes `update`)."""
        if now >= update.expires_at:
            return _drop(update, "expired")
        if customer is None:
            if update.topic == Topic.ORDER:
                await unfollow(self._documents, update.subject, update.customer_id)
            return _drop(update, "the customer is forgotten")
        context = context_of(customer)
        if context.subscription(update.topic, update.subject) is None:
            if update.topic == Topic.ORDER:
                await unfollow(self._documents, update.subject, update.customer_id)
            return _drop(update, "unsubscribed")
        if update.topic == Topic.ORDER and latest not in (None, update.event):
            return _drop(update, "superseded by a newer update")
        appointment = None
        if update.topic == Topic.APPOINTMENT:
            appointment = await self._still_booked(update)
            if appointment is None:
                return _drop(update, "the appointment was moved or cancelled")
        zone = self._zone_of(context)
        allowed = self._quiet_hours.next_allowed(now, zone)
        if allowed > now:
            return _hold(update, allowed, "quiet hours")
        today = now.astimezone(UTC).date()
        if context.updates_sent.get(today.isoformat(), 0) >= self._daily_limit:
            tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
            return _hold(update, tomorrow, "daily limit reached")
        reply = await self._reply(update, appointment, now.astimezone(zone))
        language = context.preferences.language
        for destination in destinations(context, update.topic, now):
            try:
                activity_id = await self._send(destination, reply, now, language)
            except ChannelRefused as refused:
                customer = None  # read again for any change now
                if refused.final:
                    update.note(f"{refused.status} from {destination.reference.channel_id}")
                    unreachable = _unreachable(destination.account)
                    await change_context(self._documents, update.customer_id, unreachable)
                    continue
                if refused.status == 429 and refused.retry_after is not None:
                    wait = min(timedelta(seconds=refused.retry_after), LONGEST_RETRY_AFTER)
                    return self._retry(update, now, "429", wait)
                return self._retry(update, now, str(refused.status))
            known = (customer, context) if customer is not None else None
            await self._delivered(update, destination, activity_id, reply, now, known, language)
            return None
        return _hold(update, now + RECHECK_CLOSED, "no channel may be written to now")

    async def _send(
        self, destination: Destination, reply: replies.Reply, now: datetime, language: str | None
    ) -> str:
        reference = destination.reference
        first = ""
        for activity in render(
            reply, reference.channel_id, reference.conversation_type, now, language
        ):
            if destination.channel_data:
                activity["channelData"] = {**activity.get("channelData", {}),
                                           **destination.channel_data}  # fmt: skip
            sent = await self._channels.send(reference, activity, retry=False)
            first = first or sent
        return first

    async def _delivered(
        self, update: Update, destination: Destination, activity_id: str, reply: replies.Reply,
        now: datetime, known: tuple[StoredDocument, CustomerContext] | None,
        language: str | None,
    ) -> None:  # fmt: skip
        update.state, update.sent_at = UpdateState.SENT, now
        update.sent_on, update.activity_id = destination.reference.channel_id, activity_id
        update.note(f"sent on {destination.reference.channel_id}")
        day = now.astimezone(UTC).date().isoformat()
        notified = Notified(
            topic=update.topic,
            subject=update.subject,
            at=now,
            choices=list(reply.choices),
            shown=[localize(choice, language) for choice in reply.choices],
        )

        def sent(context: CustomerContext) -> None:
            context.count_update(day)
            context.notified = notified

        try:
            read, parsed = known or (None, None)
            await change_context(self._documents, update.customer_id, sent, read, parsed)
        except StorageError as error:  # delivered: never sent again for a count
            log.warning("update %s sent, but not counted: %s", update.id, error)

    async def _still_booked(self, update: Update) -> Appointment | None:
        try:
            appointment = await self._scheduling.get(update.subject)
        except AppointmentNotFound:
            return None
        booked = (
            appointment.status == AppointmentStatus.BOOKED
            and appointment.slot.start.isoformat() == update.facts.get("start")
        )
        return appointment if booked else None

    async def _reply(
        self, update: Update, appointment: Appointment | None, local_now: datetime
    ) -> replies.Reply:
        facts = update.facts
        if appointment is None:
            eta = datetime.fromisoformat(facts["eta"]) if facts.get("eta") else None
            return replies.order_update(update.subject, facts.get("status") or "", eta, local_now)
        catalogue = await self._scheduling.catalogue()
        what, where, start = replies.describe_appointment(catalogue, appointment, local_now)
        return replies.appointment_reminder(update.subject, what, where, start)

    def _zone_of(self, context: CustomerContext) -> tzinfo:
        if context.preferences.time_zone:
            try:
                return ZoneInfo(context.preferences.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        return self._default_zone

    def _retry(
        self, update: Update, now: datetime, why: str, wait: timedelta | None = None
    ) -> None:
        update.attempts += 1
        update.note(f"try {update.attempts} failed: {why}")
        if update.attempts >= MAX_ATTEMPTS:
            update.state = UpdateState.FAILED
            return
        if wait is None:
            backoff = min(FIRST_RETRY * 2 ** (update.attempts - 1), LONGEST_RETRY)
            wait = backoff * random.uniform(0.8, 1.2)
        update.not_before = now + wait


def _unreachable(account: str) -> Callable[[CustomerContext], None]:
    return lambda context: context.unreachable_at(account)


def _drop(update: Update, why: str) -> None:
    update.state = UpdateState.DROPPED
    update.note(why)


def _hold(update: Update, until: datetime, why: str) -> None:
    """Not now, and not a failure: tried again at `until` (unless it expires first)."""
    if until >= update.expires_at:
        return _drop(update, f"{why} until it expired")
    update.not_before = until
    if not update.notes or update.notes[-1] != f"held: {why}":
        update.note(f"held: {why}")
    return None
