"""HttpSchedulingService against a real local HTTP server playing the scheduling system:
the embedded scheduler behind the documented routes, with failures on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from services.http_scheduling import HttpSchedulingService
from services.scheduling import (
    AppointmentKind,
    AppointmentNotFound,
    AppointmentStatus,
    BookingDetails,
    SchedulingUnavailable,
    SlotTaken,
)
from tests.conftest import serve
from tests.scheduling_api import StandIn

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
REPAIR, STORE = AppointmentKind.IN_STORE_REPAIR, "london-oxford-st"


@asynccontextmanager
async def client(stand_in: StandIn, **options: float) -> AsyncIterator[HttpSchedulingService]:
    async with serve(stand_in.app()) as base_url:
        service = HttpSchedulingService(base_url, "key-123", **options)
        await service.open()
        try:
            yield service
        finally:
            await service.close()


async def test_book_find_move_and_cancel_through_the_api() -> None:
    stand_in = StandIn(lambda: NOW)
    async with client(stand_in) as service:
        catalogue = await service.catalogue()
        assert STORE in catalogue.stores
        slots = await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 3)
        assert len(slots) == 3 and all(s.start > NOW for s in slots)
        booked = await service.book("customer 1/2", slots[0], BookingDetails(device="laptop"))
        assert await service.get(booked.reference) == booked
        assert await service.list_for_customer("customer 1/2") == [booked]
        moved = await service.reschedule(booked.reference, slots[1])
        assert moved.slot == slots[1]
        cancelled = await service.cancel(booked.reference)
        assert cancelled.status == AppointmentStatus.CANCELLED
        with pytest.raises(AppointmentNotFound):
            await service.get("AP-NOSUCH")
    assert all(r.headers.get("X-API-Key") == "key-123" for r in stand_in.requests)


async def test_a_taken_slot_is_an_answer_not_a_failure() -> None:
    stand_in = StandIn(lambda: NOW)
    async with client(stand_in, breaker_threshold=2) as service:
        slot = (await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 1))[0]
        await service.book("customer-1", slot, BookingDetails())
        for _ in range(3):  # never opens the circuit
            with pytest.raises(SlotTaken):
                await service.book("customer-2", slot, BookingDetails())
        assert len(await service.free_slots(REPAIR, STORE, slot.start, 2)) == 2


async def test_a_retried_booking_books_once() -> None:
    stand_in = StandIn(lambda: NOW)
    async with client(stand_in) as service:
        slot = (await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 1))[0]
        # The first answer is lost: the system booked, the bot saw a 503 and tried again.
        stand_in.failures = ["lost"]
        booked = await service.book("customer-1", slot, BookingDetails())
    keys = {r.headers["Idempotency-Key"] for r in stand_in.requests if r.method == "POST"}
    assert len(keys) == 1 and booked.slot == slot
    assert len(await stand_in.scheduler.list_for_customer("customer-1")) == 1


@pytest.mark.parametrize("failure", [500, 503, "junk"])
async def test_a_failing_system_is_unavailable_within_the_deadline(failure: int | str) -> None:
    stand_in = StandIn(lambda: NOW)
    stand_in.failures = [failure] * 10
    async with client(stand_in, deadline=1.5, attempt_timeout=0.5) as service:
        with pytest.raises(SchedulingUnavailable):
            await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 3)
    # Retried while it could be a passing failure, within bounds; junk is not retried.
    if failure == "junk":
        assert len(stand_in.requests) == 1
    else:
        assert 2 <= len(stand_in.requests) <= 4


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (503, "scheduling system answered 503"),
        (403, "scheduling system answered 403"),
        ("junk", "scheduling system answered with something not JSON"),
        ("empty object", "scheduling system answered something unreadable: 'kinds'"),
    ],
)
async def test_the_caller_and_the_log_are_told_what_was_wrong(
    failure: int | str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in = StandIn(lambda: NOW)
    stand_in.failures = [failure] * 10
    async with client(stand_in, deadline=1.0, attempt_timeout=0.3) as service:
        with pytest.raises(SchedulingUnavailable, match=f"^{why}$"):
            await service.catalogue()
    assert f"scheduling system call failed: {why}" in caplog.text


async def test_a_hanging_system_is_given_up_at_the_deadline_and_recovers() -> None:
    stand_in = StandIn(lambda: NOW)
    stand_in.failures = ["hang"] * 3
    async with client(stand_in, deadline=1.0, attempt_timeout=0.3) as service:
        with pytest.raises(SchedulingUnavailable):
            await service.catalogue()
        stand_in.failures = []
        assert (await service.catalogue()).stores


async def test_what_the_customer_told_reaches_the_scheduling_system_with_the_booking() -> None:
    stand_in = StandIn(lambda: NOW)
    async with client(stand_in) as service:
        slots = await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 2)
        details = BookingDetails("1 High St", "TV wall mount", "tried: reset")
        later = await service.book("customer-1", slots[1], details)
        earlier = await service.book("customer-1", slots[0], BookingDetails())
        kept = await stand_in.scheduler.get(later.reference)
        assert (kept.address, kept.device, kept.notes) == ("1 High St", "TV wall mount",
                                                          "tried: reset")  # fmt: skip
        # Listed soonest first, whatever order the system answers in.
        assert await service.list_for_customer("customer-1") == [earlier, later]
        with pytest.raises(AppointmentNotFound) as missing:
            await service.cancel("AP-NOSUCH")
    assert "AP-NOSUCH" in str(missing.value)
    posts = [r for r in stand_in.requests if r.method == "POST" and r.path == "/appointments"]
    assert len(posts) == 2
    assert all(len(r.headers["Idempotency-Key"]) == 36 for r in posts)
    assert posts[0].headers["Idempotency-Key"] != posts[1].headers["Idempotency-Key"]


async def test_moving_a_missing_appointment_or_to_a_taken_slot_says_which() -> None:
    stand_in = StandIn(lambda: NOW)
    async with client(stand_in) as service:
        slots = await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 2)
        mine = await service.book("customer-1", slots[0], BookingDetails())
        await service.book("customer-2", slots[1], BookingDetails())
        with pytest.raises(SlotTaken):
            await service.reschedule(mine.reference, slots[1])
        with pytest.raises(AppointmentNotFound):
            await service.reschedule("AP-NOSUCH", slots[0])
