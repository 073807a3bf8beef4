"""Updates the bot owes customers: who follows which order, and what to put in the outbox
when an order changes or an appointment comes near.

The customer's own context says what they subscribed to (changed in their turn); the
document `updates/orders/<order number>` lists the customers following an order, so an
event finds them without a query. A customer who stopped following is taken off that
list when the next event finds them unsubscribed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from customers.context import CustomerContext, Topic
from customers.stored import change_context
from notifications.outbox import Outbox, Update, update_id
from state.documents import DocumentStore, DocumentWrite, EtagConflict, append_to_list

log = logging.getLogger(__name__)

FOLLOWERS_PREFIX = "updates/orders/"
# Event ids are remembered longer than an event stays fresh (order_events.FRESHNESS): a
# repeat after that is refused as stale.
SEEN_TTL = 24 * 3600
SEEN_PREFIX = "order-events/"
# More customers than this following one order is not a household: the rest are refused.
MAX_FOLLOWERS = 100
WRITE_ATTEMPTS = 8
# An order's update not delivered within this long says nothing useful any more.
ORDER_UPDATE_LIFETIME = timedelta(days=3)
REMINDER_BEFORE = timedelta(hours=24)
# A booking made closer to its time than this gets no reminder: the customer just booked.
REMINDER_MIN_NOTICE = timedelta(hours=2)
# Customers handled at once for one event.
FAN_OUT = 32


@dataclass(frozen=True)
class OrderEvent:
    """The order system's word that an order changed."""

    event_id: str
    order_number: str
    status: str
    eta: datetime | None
    occurred_at: datetime


def followers_key(order_number: str) -> str:
    return f"{FOLLOWERS_PREFIX}{order_number}"


def seen_key(event_id: str) -> str:
    return SEEN_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()[:40]


class Updates:
    def __init__(
        self, documents: DocumentStore, outbox: Outbox, clock: Callable[[], datetime]
    ) -> None:
        self._documents = documents
        self._outbox = outbox
        self._clock = clock

    async def follow_order(self, customer_id: str, order_number: str) -> bool:
        """Lists the customer as following the order; False when the list is full."""
        key = followers_key(order_number)
        stored = (await self._documents.read([key])).get(key)
        if stored is not None and customer_id in stored.data.get("customers", []):
            return True
        return await append_to_list(
            self._documents, key, "customers", customer_id,
            attempts=WRITE_ATTEMPTS, limit=MAX_FOLLOWERS,
        )  # fmt: skip

    async def order_changed(self, event: OrderEvent) -> int | None:
        """Puts an update in the outbox for each customer following the order; how many.
        None: the event was accepted before (it is accepted once)."""
        key, seen = followers_key(event.order_number), seen_key(event.event_id)
        found = await self._documents.read([key, seen])
        if seen in found:
            return None
        followers = list(found[key].data.get("customers", [])) if key in found else []
        limit = asyncio.Semaphore(FAN_OUT)

        async def one(customer_id: str) -> bool | None:
            async with limit:
                return await self._tell(customer_id, event)

        outcomes = await asyncio.gather(*(one(customer) for customer in followers))
        gone = [customer for customer, told in zip(followers, outcomes, strict=True)
                if told is None]  # fmt: skip
        if gone:
            await self._unfollow(key, gone)
        # Recorded once every update is in the outbox: an event sent again after a failure
        # puts in only the updates missing (their ids come from the event's).
        record = {"orderNumber": event.order_number, "at": self._clock().isoformat()}
        try:
            await self._documents.write({seen: DocumentWrite(record, create_only=True,
                                                             ttl=SEEN_TTL)})  # fmt: skip
        except EtagConflict:  # the same event, accepted meanwhile through another request
            return None
        return sum(1 for told in outcomes if told)

    async def _tell(self, customer_id: str, event: OrderEvent) -> bool | None:
        """True: an update is in the outbox; False: this event is older than one already
        known; None: the customer no longer follows the order."""

        def latest(context: CustomerContext) -> bool | None:
            subscription = context.subscription(Topic.ORDER, event.order_number)
            if subscription is None:
                return None
            return subscription.newer(event.event_id, event.occurred_at)

        newest = await change_context(self._documents, customer_id, latest)
        if not newest:
            return newest
        now = self._clock()
        update = Update(
            id=update_id(customer_id, f"order:{event.event_id}"),
            customer_id=customer_id,
            topic=Topic.ORDER,
            subject=event.order_number,
            event=event.event_id,
            facts={"status": event.status, "eta": event.eta.isoformat() if event.eta else None},
            created_at=now,
            not_before=now,
            expires_at=now + ORDER_UPDATE_LIFETIME,
        )
        await self._outbox.put(update)
        return True

    async def _unfollow(self, key: str, customers: list[str]) -> None:
        for _ in range(WRITE_ATTEMPTS):
            stored = (await self._documents.read([key])).get(key)
            if stored is None:
                return
            kept = [c for c in stored.data.get("customers", []) if c not in customers]
            write = DocumentWrite({**stored.data, "customers": kept}, if_match=stored.etag)
            try:
                await self._documents.write({key: write})
                return
            except EtagConflict:
                continue

    async def remind(
        self, customer_id: str, reference: str, start: datetime, what: str, where: str
    ) -> bool:
        """Puts the appointment's reminder in the outbox, due a day before it; False when
        the appointment is too close for one."""
        now = self._clock()
        due = start - REMINDER_BEFORE
        if due < now + REMINDER_MIN_NOTICE:
            return False
        await self._outbox.put(
            Update(
                id=update_id(customer_id, f"reminder:{reference}:{start.isoformat()}"),
                customer_id=customer_id,
                topic=Topic.APPOINTMENT,
                subject=reference,
                event=f"reminder:{start.isoformat()}",
                facts={"what": what, "where": where, "start": start.isoformat()},
                created_at=now,
                not_before=due,
                expires_at=start,
            )
        )
        return True
