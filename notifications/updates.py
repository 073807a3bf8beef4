"""Updates the bot owes customers: who follows which order, and what to put in the outbox
when an order changes or an appointment comes near.

The customer's own context says what they subscribed to (changed in their turn); the
document `updates/orders/<order number>` lists the customers following an order, so an
event finds them without a query, and names the order's latest event, so an update
still waiting for an older one is not sent. A customer who stopped following is taken
off that list when the sender finds them unsubscribed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from customers.context import Topic
from notifications.outbox import Outbox, Update, update_id
from state.documents import (
    DocumentStore,
    DocumentWrite,
    EtagConflict,
    StoredDocument,
    append_to_list,
)

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
        followers = await self._record_latest(key, found.get(key), event)
        limit = asyncio.Semaphore(FAN_OUT)

        async def tell(customer_id: str) -> None:
            async with limit:
                await self._outbox.put(self._update(customer_id, event))

        if len(followers) == 1:  # the common case: no task for one
            await self._outbox.put(self._update(followers[0], event))
        else:
            await asyncio.gather(*(tell(customer) for customer in followers))
        # Recorded once every update is in the outbox: an event sent again after a failure
        # puts in only the updates missing (their ids come from the event's).
        record = {"orderNumber": event.order_number, "at": self._clock().isoformat()}
        try:
            await self._documents.write({seen: DocumentWrite(record, create_only=True,
                                                             ttl=SEEN_TTL)})  # fmt: skip
        except EtagConflict:  # the same event, accepted meanwhile through another request
            return None
        return len(followers)

    async def _record_latest(
        self, key: str, stored: StoredDocument | None, event: OrderEvent
    ) -> list[str]:
        """Notes the event as the order's latest (an update still waiting for an older one
        is then not sent) and returns who follows the order; nobody when a later event is
        already known."""
        for _ in range(WRITE_ATTEMPTS):
            if stored is None:
                return []
            latest = stored.data.get("latestEventAt")
            if latest and event.occurred_at < datetime.fromisoformat(latest):
                return []
            data = {**stored.data, "latestEvent": event.event_id,
                    "latestEventAt": event.occurred_at.isoformat()}  # fmt: skip
            try:
                await self._documents.write({key: DocumentWrite(data, if_match=stored.etag)})
                return list(data.get("customers", []))
            except EtagConflict:
                stored = (await self._documents.read([key])).get(key)
        raise EtagConflict(key)

    def _update(self, customer_id: str, event: OrderEvent) -> Update:
        now = self._clock()
        return Update(
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


async def unfollow(documents: DocumentStore, order_number: str, customer_id: str) -> None:
    """Takes a customer who stopped following the order off its list."""
    key = followers_key(order_number)
    for _ in range(WRITE_ATTEMPTS):
        stored = (await documents.read([key])).get(key)
        if stored is None or customer_id not in stored.data.get("customers", []):
            return
        kept = [c for c in stored.data["customers"] if c != customer_id]
        write = DocumentWrite({**stored.data, "customers": kept}, if_match=stored.etag)
        try:
            await documents.write({key: write})
            return
        except EtagConflict:
            continue
