"""A stand-in for a company's scheduling system: the README's routes, answered by the
embedded scheduler, with failures on demand (a status code, a hang, junk, a lost answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from services.demo_scheduling import DemoSchedulingService
from services.scheduling import (
    DEMO_SCHEDULE_FILE,
    AppointmentKind,
    AppointmentNotFound,
    BookingDetails,
    Slot,
    SlotTaken,
)
from state.memory_store import MemoryDocumentStore


class StandIn:
    """The scheduling API of the README, answering from the embedded scheduler."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.scheduler = DemoSchedulingService(MemoryDocumentStore(), clock)
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
            if failure == "empty object":  # JSON, but not what was asked for
                return web.json_response({})
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
