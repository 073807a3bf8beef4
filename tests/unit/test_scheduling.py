"""The embedded scheduling system: slots from opening hours, bookings kept in the bot's
store, one booking a slot even when two instances race for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.demo_scheduling import DemoSchedulingService, slot_key
from services.scheduling import (
    LEAD_TIME,
    AppointmentKind,
    AppointmentNotFound,
    AppointmentStatus,
    BookingDetails,
    Catalogue,
    SchedulingUnavailable,
    SlotTaken,
    UnknownPlace,
)
from state.cosmos_store import CosmosDocumentStore
from state.documents import DocumentStore, DocumentWrite, StorageUnavailable
from state.memory_store import MemoryDocumentStore
from state.sqlite_store import SqliteDocumentStore
from tools.local_peers import KEY

# Tuesday 24 November 2026, 10:00 in London.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
REPAIR, INSTALL = AppointmentKind.IN_STORE_REPAIR, AppointmentKind.HOME_INSTALLATION
OXFORD_ST, MANCHESTER = "london-oxford-st", "manchester-arndale"
CATALOGUE = Catalogue.from_file()


def clock() -> datetime:
    return NOW


StoreMaker = Callable[[], DocumentStore]


@pytest.fixture(params=["memory", "sqlite", "cosmos"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreMaker]:
    """Makes document stores that all see one database (memory: one store)."""
    made: list[DocumentStore] = []
    shared = MemoryDocumentStore()
    database = f"test-{uuid.uuid4().hex[:12]}"

    def make() -> DocumentStore:
        if request.param == "memory":
            return shared
        if request.param == "sqlite":
            store: DocumentStore = SqliteDocumentStore(tmp_path)
        else:
            server = request.getfixturevalue("cosmos_server")
            store = CosmosDocumentStore(server.endpoint, KEY, database, "state",
                                        verify_tls=False, create_container=True)  # fmt: skip
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


async def scheduler(stores: StoreMaker) -> DemoSchedulingService:
    documents = stores()
    await documents.open()
    return DemoSchedulingService(documents, clock, CATALOGUE)


def test_slots_follow_each_places_opening_hours() -> None:
    tuesday = NOW.date()
    repairs = CATALOGUE.slots_on(REPAIR, OXFORD_ST, tuesday)
    assert repairs[0].start.isoformat() == "2026-11-24T09:00:00+00:00"
    assert repairs[-1].end.isoformat() == "2026-11-24T19:00:00+00:00" and len(repairs) == 20
    sunday = tuesday + timedelta(days=5)
    assert CATALOGUE.slots_on(REPAIR, MANCHESTER, sunday) == []
    assert len(CATALOGUE.slots_on(REPAIR, OXFORD_ST, sunday)) == 10
    installs = CATALOGUE.slots_on(INSTALL, "home", tuesday)
    assert [s.start.hour for s in installs] == [8, 10, 12, 14, 16]
    with pytest.raises(UnknownPlace):
        CATALOGUE.slots_on(INSTALL, OXFORD_ST, tuesday)
    with pytest.raises(UnknownPlace):
        CATALOGUE.slots_on(REPAIR, "atlantis", tuesday)


async def test_free_slots_are_the_nearest_to_what_was_asked_and_never_past(
    stores: StoreMaker,
) -> None:
    service = await scheduler(stores)
    friday_3pm = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    slots = await service.free_slots(REPAIR, OXFORD_ST, friday_3pm, 5)
    assert [s.start.strftime("%a %H:%M") for s in slots] == [
        "Fri 14:00", "Fri 14:30", "Fri 15:00", "Fri 15:30", "Fri 16:00"]  # fmt: skip
    asked_an_hour_ago = await service.free_slots(REPAIR, OXFORD_ST, NOW - timedelta(hours=1), 3)
    assert all(s.start >= NOW + LEAD_TIME for s in asked_an_hour_ago)
    assert asked_an_hour_ago[0].start == NOW + LEAD_TIME
    # A closed day gives the nearest open ones.
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert {s.start.date().isoformat() for s in await service.free_slots(
        REPAIR, MANCHESTER, sunday, 4)} <= {"2026-11-28", "2026-11-30"}  # fmt: skip


async def test_book_find_move_and_cancel(stores: StoreMaker) -> None:
    service = await scheduler(stores)
    first = (await service.free_slots(INSTALL, "home", datetime(2026, 11, 27, 9, tzinfo=UTC), 1))[0]
    booked = await service.book(
        "customer-1", first, BookingDetails(address="1 High St", device="tv", notes="wall mount")
    )
    assert booked.reference.startswith("AP-") and not booked.reference[3:].isdigit()
    assert await service.get(booked.reference) == booked
    assert await service.list_for_customer("customer-1") == [booked]
    assert await service.list_for_customer("customer-2") == []
    assert first not in await service.free_slots(INSTALL, "home", first.start, 5)

    later = (await service.free_slots(INSTALL, "home", first.start + timedelta(days=3), 1))[0]
    moved = await service.reschedule(booked.reference, later)
    assert moved.slot == later and moved.address == "1 High St"
    assert first in await service.free_slots(INSTALL, "home", first.start, 5)
    assert later not in await service.free_slots(INSTALL, "home", later.start, 5)

    cancelled = await service.cancel(booked.reference)
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert await service.list_for_customer("customer-1") == []
    assert later in await service.free_slots(INSTALL, "home", later.start, 5)
    with pytest.raises(AppointmentNotFound):
        await service.reschedule(booked.reference, first)
    with pytest.raises(AppointmentNotFound):
        await service.get("AP-NOSUCH")


async def test_two_instances_racing_for_the_last_slot_make_one_booking(
    stores: StoreMaker,
) -> None:
    one, two = await scheduler(stores), await scheduler(stores)
    slot = (await one.free_slots(REPAIR, OXFORD_ST, datetime(2026, 11, 26, 12, tzinfo=UTC), 1))[0]
    results = await asyncio.gather(
        *((one if i % 2 else two).book(f"customer-{i}", slot, BookingDetails()) for i in range(10)),
        return_exceptions=True,
    )
    booked = [r for r in results if not isinstance(r, Exception)]
    assert len(booked) == 1, results
    assert all(isinstance(r, SlotTaken) for r in results if r not in booked)
    # The others are offered the next ones, and the winner's booking is everyone's truth.
    offered = await two.free_slots(REPAIR, OXFORD_ST, slot.start, 3)
    assert slot not in offered and len(offered) == 3
    assert await one.get(booked[0].reference) == await two.get(booked[0].reference)


async def test_appointments_survive_a_restart(tmp_path: Path) -> None:
    documents = SqliteDocumentStore(tmp_path)
    await documents.open()
    service = DemoSchedulingService(documents, clock, CATALOGUE)
    slot = (await service.free_slots(REPAIR, MANCHESTER, NOW + timedelta(days=1), 1))[0]
    booked = await service.book("customer-1", slot, BookingDetails(device="laptop"))
    await documents.close()

    reopened = SqliteDocumentStore(tmp_path)
    await reopened.open()
    restarted = DemoSchedulingService(reopened, clock, CATALOGUE)
    assert await restarted.list_for_customer("customer-1") == [booked]
    with pytest.raises(SlotTaken):
        await restarted.book("customer-2", slot, BookingDetails())
    await reopened.close()


async def test_a_slot_that_is_not_on_the_grid_or_in_the_past_is_refused() -> None:
    service = DemoSchedulingService(MemoryDocumentStore(), clock, CATALOGUE)
    slot = (await service.free_slots(REPAIR, OXFORD_ST, NOW + timedelta(days=1), 1))[0]
    with pytest.raises(UnknownPlace):
        await service.book("c", replace(slot, start=slot.start + timedelta(minutes=7)),
                           BookingDetails())  # fmt: skip
    with pytest.raises(UnknownPlace):
        await service.book("c", replace(slot, where=MANCHESTER, start=slot.start.replace(
            hour=23)), BookingDetails())  # fmt: skip
    past = replace(slot, start=NOW - timedelta(days=1), end=NOW - timedelta(days=1, minutes=-30))
    with pytest.raises(SlotTaken):
        await service.book("c", past, BookingDetails())


class _FailingAfter(MemoryDocumentStore):
    """Takes the slot, then fails to write the appointment."""

    def __init__(self, failing_prefix: str) -> None:
        super().__init__()
        self._failing_prefix = failing_prefix

    async def write(self, writes):  # type: ignore[no-untyped-def]
        if any(key.startswith(self._failing_prefix) for key in writes):
            raise StorageUnavailable("the database is down")
        return await super().write(writes)


async def test_a_booking_that_cannot_be_finished_gives_its_slot_back() -> None:
    documents = _FailingAfter("scheduling/appointments/")
    service = DemoSchedulingService(documents, clock, CATALOGUE)
    slot = (await service.free_slots(REPAIR, OXFORD_ST, NOW + timedelta(days=1), 1))[0]
    with pytest.raises(SchedulingUnavailable):
        await service.book("customer-1", slot, BookingDetails())
    assert slot_key(slot) not in await documents.read([slot_key(slot)])
    assert slot in await service.free_slots(REPAIR, OXFORD_ST, slot.start, 1)


async def test_a_cancellation_is_recorded_and_one_raced_by_a_change_says_so() -> None:
    class ChangedFirst(MemoryDocumentStore):
        """Another instance changes the appointment just before this cancel is written."""

        racing = False

        async def write(self, writes):  # type: ignore[no-untyped-def]
            for key, write in writes.items():
                if self.racing and key.startswith("scheduling/appointments/") and write.if_match:
                    self.racing = False
                    await super().write({key: DocumentWrite(write.data)})
            return await super().write(writes)

    documents = ChangedFirst()
    service = DemoSchedulingService(documents, clock, CATALOGUE)
    first = await service.free_slots(INSTALL, "home", datetime(2026, 11, 27, 9, tzinfo=UTC), 2)
    booked = await service.book("customer-1", first[0], BookingDetails())
    cancelled = await service.cancel(booked.reference)
    assert cancelled.history[-1] == f"cancelled {NOW.isoformat()}"
    assert (await service.cancel(booked.reference)) == cancelled  # once
    other = await service.book("customer-1", first[1], BookingDetails())
    documents.racing = True
    with pytest.raises(SchedulingUnavailable, match=rf"^{other.reference} changed while it was "
                       "cancelled$"):  # fmt: skip
        await service.cancel(other.reference)
