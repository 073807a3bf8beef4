"""HttpSchedulingService against a real local HTTP server playing the scheduling system:
the embedded scheduler behind the documented routes, with failures on demand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from services.demo_scheduling import DemoSchedulingService
from services.http_scheduling import HttpSchedulingService
from services.scheduling import (
    DEMO_SCHEDULE_FILE,
    AppointmentKind,
    AppointmentNotFound,
    AppointmentStatus,
    BookingDetails,
    SchedulingUnavailable,
    Slot,
    SlotTaken,
)
from state.memory_store import MemoryDocumentStore
from tests.conftest import serve

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
REPAIR, STORE = AppointmentKind.IN_STORE_REPAIR, "london-oxford-st"


class StandIn:
    """The scheduling API of the README, answering from the embedded scheduler."""

    def __init__(self) -> None:
        self.scheduler = DemoSchedulingService(MemoryDocumentStore(), lambda: NOW)
        self.requests: list[web.Request] = []
        # What the next requests get instead of an answer: a status code, "hang", "junk",
        # or "lost" (done, but the answer is a 503).
        self.failures: list[int | str] = []
        self.bookings_by_key: dict[str, dict] = {}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._failing])
        app.router.add_get("/catalogue", self._catalogue)
        app.router.add_get("/slots", self._slots)
        app.router.add_post("/appointments", self._book)
        app.router.add_get("/appointments/{reference}", self._get)
        app.router.add_get("/customers/{customer}/appointments", self._list)
        app.router.add_put("/appointments/{reference}/slot", self._reschedule)
        app.router.add_post("/appointments/{reference}/cancel", self._cancel)
        return app

    @web.middleware
    async def _failing(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "hang":
                await asyncio.sleep(3600)
            if failure == "junk":
                return web.Response(text="<html>not json</html>")
            if failure == "lost":
                await handler(request)
                return web.Response(status=503)
            return web.Response(status=int(failure))
        try:
            return await handler(request)
        except SlotTaken:
            return web.json_response({"error": "slot taken"}, status=409)
        except AppointmentNotFound:
            return web.json_response({"error": "not found"}, status=404)

    async def _catalogue(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(DEMO_SCHEDULE_FILE)

    async def _slots(self, request: web.Request) -> web.Response:
        q = request.query
        slots = await self.scheduler.free_slots(
            AppointmentKind(q["kind"]), q["where"], datetime.fromisoformat(q["around"]),
            int(q["count"]),
        )  # fmt: skip
        return web.json_response({"slots": [s.to_json() for s in slots]})

    async def _book(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        if key in self.bookings_by_key:
            return web.json_response(self.bookings_by_key[key], status=201)
        body = await request.json()
        booked = await self.scheduler.book(
            body["customerId"], Slot.from_json(body["slot"]),
            BookingDetails(body.get("address"), body.get("device"), body.get("notes")),
        )  # fmt: skip
        self.bookings_by_key[key] = booked.to_json()
        return web.json_response(booked.to_json(), status=201)

    async def _get(self, request: web.Request) -> web.Response:
        found = await self.scheduler.get(request.match_info["reference"])
        return web.json_response(found.to_json())

    async def _list(self, request: web.Request) -> web.Response:
        found = await self.scheduler.list_for_customer(request.match_info["customer"])
        return web.json_response({"appointments": [a.to_json() for a in found]})

    async def _reschedule(self, request: web.Request) -> web.Response:
        slot = Slot.from_json((await request.json())["slot"])
        moved = await self.scheduler.reschedule(request.match_info["reference"], slot)
        return web.json_response(moved.to_json())

    async def _cancel(self, request: web.Request) -> web.Response:
        cancelled = await self.scheduler.cancel(request.match_info["reference"])
        return web.json_response(cancelled.to_json())


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
    stand_in = StandIn()
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
    stand_in = StandIn()
    async with client(stand_in, breaker_threshold=2) as service:
        slot = (await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 1))[0]
        await service.book("customer-1", slot, BookingDetails())
        for _ in range(3):  # never opens the circuit
            with pytest.raises(SlotTaken):
                await service.book("customer-2", slot, BookingDetails())
        assert len(await service.free_slots(REPAIR, STORE, slot.start, 2)) == 2


async def test_a_retried_booking_books_once() -> None:
    stand_in = StandIn()
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
    stand_in = StandIn()
    stand_in.failures = [failure] * 10
    async with client(stand_in, deadline=1.5, attempt_timeout=0.5) as service:
        with pytest.raises(SchedulingUnavailable):
            await service.free_slots(REPAIR, STORE, NOW + timedelta(days=1), 3)
    # Retried while it could be a passing failure, within bounds; junk is not retried.
    if failure == "junk":
        assert len(stand_in.requests) == 1
    else:
        assert 2 <= len(stand_in.requests) <= 4


async def test_a_hanging_system_is_given_up_at_the_deadline_and_recovers() -> None:
    stand_in = StandIn()
    stand_in.failures = ["hang"] * 3
    async with client(stand_in, deadline=1.0, attempt_timeout=0.3) as service:
        with pytest.raises(SchedulingUnavailable):
            await service.catalogue()
        stand_in.failures = []
        assert (await service.catalogue()).stores
