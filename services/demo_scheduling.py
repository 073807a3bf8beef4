"""The embedded scheduling system, used when SCHEDULING_API_URL is unset.

Its appointments live in the bot's own document store, so they survive a restart and two
instances over one database share them:

    scheduling/slots/<kind>/<where>/<start, UTC>   {"reference"}     the slot is taken
    scheduling/appointments/<reference>            Appointment.to_json()
    scheduling/customers/<customer id>             {"references": [...]}

A slot is taken with a create-only write, which the store refuses to the second writer:
two customers racing for the last slot get one booking and one SlotTaken. The slot is
taken first and given back when the booking cannot be finished, so a failure never leaves
two appointments in one slot (Cosmos DB writes one document at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.scheduling import (
    HORIZON,
    LEAD_TIME,
    Appointment,
    AppointmentKind,
    AppointmentNotFound,
    AppointmentStatus,
    BookingDetails,
    Catalogue,
    SchedulingUnavailable,
    Slot,
    SlotTaken,
    UnknownPlace,
    nearest_first,
    new_reference,
)
from state.documents import (
    DocumentExists,
    DocumentStore,
    DocumentWrite,
    EtagConflict,
    StorageError,
    append_to_list,
)

log = logging.getLogger(__name__)

# Conflicting writes to one customer's list before giving up (each is another turn of the
# same customer, so a handful is plenty).
MAX_INDEX_CONFLICTS = 10
# Days read from the store at a time while looking for free slots.
_DAYS_A_READ = 7


def slot_key(slot: Slot) -> str:
    start = slot.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"scheduling/slots/{slot.kind.value}/{slot.where}/{start}"


def appointment_key(reference: str) -> str:
    return f"scheduling/appointments/{reference}"


def customer_index_key(customer_id: str) -> str:
    return f"scheduling/customers/{customer_id}"


class DemoSchedulingService:
    def __init__(
        self,
        documents: DocumentStore,
        clock: Callable[[], datetime],
        catalogue: Catalogue | None = None,
    ) -> None:
        self._documents = documents
        self._clock = clock
        self._catalogue = catalogue or Catalogue.from_file()

    async def catalogue(self) -> Catalogue:
        return self._catalogue

    async def free_slots(
        self, kind: AppointmentKind, where: str, around: datetime, count: int
    ) -> list[Slot]:
        self._catalogue.check_where(kind, where)
        earliest = self._clock() + LEAD_TIME
        around = max(around, earliest)
        first_day = around.astimezone(self._catalogue.time_zone).date()
        # Days before the one asked for count too ("nearest"), but never the past.
        today = earliest.astimezone(self._catalogue.time_zone).date()
        day = max(today, first_day - timedelta(days=3))
        last_day = (earliest + HORIZON).astimezone(self._catalogue.time_zone).date()
        found: list[Slot] = []
        while day <= last_day:
            days = [day + timedelta(days=i) for i in range(_DAYS_A_READ)]
            candidates = [
                slot
                for d in days
                if d <= last_day
                for slot in self._catalogue.slots_on(kind, where, d)
                if slot.start >= earliest
            ]
            taken = await self._read({slot_key(s) for s in candidates})
            found.extend(s for s in candidates if slot_key(s) not in taken)
            nearest = nearest_first(found, around)[:count]
            # Done once no later day can be nearer than the farthest slot kept.
            next_day_start = datetime.combine(
                days[-1] + timedelta(days=1), datetime.min.time(), self._catalogue.time_zone
            )
            if len(nearest) == count and next_day_start - around >= abs(nearest[-1].start - around):
                return sorted(nearest, key=lambda s: s.start)
            day = days[-1] + timedelta(days=1)
        return sorted(nearest_first(found, around)[:count], key=lambda s: s.start)

    async def book(self, customer_id: str, slot: Slot, details: BookingDetails) -> Appointment:
        self._check_bookable(slot)
        reference = new_reference()
        appointment = Appointment(
            reference, customer_id, slot, AppointmentStatus.BOOKED,
            details.address, details.device, details.notes,
            (f"booked {self._clock().isoformat()}",),
        )  # fmt: skip
        await self._take(slot, reference)
        try:
            await self._write({appointment_key(reference): DocumentWrite(
                appointment.to_json(), create_only=True)})  # fmt: skip
            await self._add_to_customer(customer_id, reference)
        except (SchedulingUnavailable, EtagConflict) as error:
            await self._give_back(slot, reference)
            raise SchedulingUnavailable(f"booking {reference} not finished: {error}") from error
        return appointment

    async def get(self, reference: str) -> Appointment:
        return (await self._stored(reference))[0]

    async def list_for_customer(self, customer_id: str) -> list[Appointment]:
        index = (await self._read({customer_index_key(customer_id)})).get(
            customer_index_key(customer_id)
        )
        references = index.data.get("references", []) if index else []
        stored = await self._read({appointment_key(r) for r in references})
        now = self._clock()
        appointments = [Appointment.from_json(d.data) for d in stored.values()]
        return sorted(
            (
                a
                for a in appointments
                if a.customer_id == customer_id
                and a.status == AppointmentStatus.BOOKED
                and a.slot.end > now
            ),
            key=lambda a: a.slot.start,
        )

    async def reschedule(self, reference: str, slot: Slot) -> Appointment:
        appointment, etag = await self._stored(reference)
        if appointment.status != AppointmentStatus.BOOKED:
            raise AppointmentNotFound(reference)
        self._check_bookable(slot)
        if slot.kind != appointment.slot.kind:
            raise UnknownPlace(f"{reference} is a {appointment.slot.kind.value}")
        await self._take(slot, reference)
        moved = replace(
            appointment,
            slot=slot,
            history=(*appointment.history, f"moved {self._clock().isoformat()}"),
        )
        try:
            await self._write({appointment_key(reference): DocumentWrite(moved.to_json(), etag)})
        except (SchedulingUnavailable, EtagConflict):
            await self._give_back(slot, reference)
            raise SchedulingUnavailable(f"{reference} changed while it was moved") from None
        await self._give_back(appointment.slot, reference)
        return moved

    async def cancel(self, reference: str) -> Appointment:
        appointment, etag = await self._stored(reference)
        if appointment.status == AppointmentStatus.CANCELLED:
            return appointment
        cancelled = replace(
            appointment,
            status=AppointmentStatus.CANCELLED,
            history=(*appointment.history, f"cancelled {self._clock().isoformat()}"),
        )
        try:
            await self._write(
                {appointment_key(reference): DocumentWrite(cancelled.to_json(), etag)}
            )
        except EtagConflict:
            raise SchedulingUnavailable(f"{reference} changed while it was cancelled") from None
        await self._give_back(appointment.slot, reference)
        return cancelled

    def _check_bookable(self, slot: Slot) -> None:
        self._catalogue.check_where(slot.kind, slot.where)
        if slot.start < self._clock() + LEAD_TIME:
            raise SlotTaken(slot)
        day = slot.start.astimezone(self._catalogue.time_zone).date()
        if slot not in self._catalogue.slots_on(slot.kind, slot.where, day):
            raise UnknownPlace(f"{slot.start.isoformat()} is not a {slot.kind.value} slot")

    async def _stored(self, reference: str) -> tuple[Appointment, str]:
        found = (await self._read({appointment_key(reference)})).get(appointment_key(reference))
        if found is None:
            raise AppointmentNotFound(reference)
        return Appointment.from_json(found.data), found.etag

    async def _take(self, slot: Slot, reference: str) -> None:
        try:
            await self._documents.write(
                {slot_key(slot): DocumentWrite({"reference": reference}, create_only=True)}
            )
        except DocumentExists:
            raise SlotTaken(slot) from None
        except StorageError as error:
            raise SchedulingUnavailable(str(error)) from error

    async def _give_back(self, slot: Slot, reference: str) -> None:
        key = slot_key(slot)
        try:
            claim = (await self._documents.read([key])).get(key)
            if claim is not None and claim.data.get("reference") == reference:
                await self._documents.delete([key])
        except StorageError as error:  # the slot stays taken: lost capacity, not a double booking
            log.warning("slot %s not given back: %s", key, error)

    async def _add_to_customer(self, customer_id: str, reference: str) -> None:
        key = customer_index_key(customer_id)
        try:
            added = await append_to_list(self._documents, key, "references", reference,
                                         attempts=MAX_INDEX_CONFLICTS)  # fmt: skip
        except StorageError as error:
            raise SchedulingUnavailable(str(error)) from error
        if not added:
            raise SchedulingUnavailable(f"{key} kept changing")

    async def _read(self, keys: set[str]) -> dict:
        if not keys:
            return {}
        try:
            return await self._documents.read(sorted(keys))
        except StorageError as error:
            raise SchedulingUnavailable(str(error)) from error

    async def _write(self, writes: dict[str, DocumentWrite]) -> None:
        try:
            await self._documents.write(writes)
        except EtagConflict:
            raise
        except StorageError as error:
            raise SchedulingUnavailable(str(error)) from error
