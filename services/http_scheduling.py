"""A company's own scheduling system over HTTP.

Contract (README, "Connect your scheduling system"); times are ISO 8601 with an offset,
a slot is {"kind", "where", "start", "end"}, an appointment is
{"reference", "customerId", "slot", "status": "booked"|"cancelled", "address", "device",
"notes"}:
    GET  {SCHEDULING_API_URL}/catalogue                 200 the shape of demo_schedule.json
    GET  /slots?kind=&where=&around=&count=             200 {"slots": [slot, ...]}
    POST /appointments {"customerId", "slot", "address", "device", "notes"}
         header Idempotency-Key (the same on every retry of one booking)
                                                        201 appointment | 409 slot taken
    GET  /appointments/{reference}                      200 appointment | 404
    GET  /customers/{customerId}/appointments           200 {"appointments": [...]}
    PUT  /appointments/{reference}/slot {"slot"}        200 appointment | 404 | 409
    POST /appointments/{reference}/cancel               200 appointment | 404
    header X-API-Key: {SCHEDULING_API_KEY} when it is set.

Every call finishes inside its deadline, with the retries and circuit breaker of
services/resilient_http.py; a slot taken or an appointment not found is an answer, not
a failure of the system.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from services.resilient_http import BadAnswer, ResilientJsonClient, Unavailable
from services.scheduling import (
    Appointment,
    AppointmentKind,
    AppointmentNotFound,
    BookingDetails,
    Catalogue,
    SchedulingUnavailable,
    Slot,
    SlotTaken,
)

MAX_SLOTS = 20
MAX_APPOINTMENTS = 50
Result = TypeVar("Result")


class HttpSchedulingService:
    def __init__(self, base_url: str, api_key: str | None = None, **resilience: float) -> None:
        self._client = ResilientJsonClient(
            "scheduling system", base_url, api_key,
            answers=(SlotTaken, AppointmentNotFound), **resilience,
        )  # fmt: skip
        self._catalogue: Catalogue | None = None

    async def open(self) -> None:
        await self._client.open()

    async def close(self) -> None:
        await self._client.close()

    async def catalogue(self) -> Catalogue:
        # Kinds and stores change rarely: read once, and again only after a failure.
        if self._catalogue is None:
            self._catalogue = await self._call("GET", "/catalogue", _ok(Catalogue.from_json))
        return self._catalogue

    async def free_slots(
        self, kind: AppointmentKind, where: str, around: datetime, count: int
    ) -> list[Slot]:
        query = urlencode({"kind": kind.value, "where": where,
                           "around": around.isoformat(), "count": count})  # fmt: skip

        def slots(body: dict) -> list[Slot]:
            found = [Slot.from_json(s) for s in body["slots"][:MAX_SLOTS]]
            return sorted(found, key=lambda s: s.start)[:count]

        return await self._call("GET", f"/slots?{query}", _ok(slots))

    async def book(self, customer_id: str, slot: Slot, details: BookingDetails) -> Appointment:
        body = {"customerId": customer_id, "slot": slot.to_json(), "address": details.address,
                "device": details.device, "notes": details.notes}  # fmt: skip
        # A retry after a timeout must not book twice: the system keeps the first answer.
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        return await self._call(
            "POST", "/appointments", _appointment(slot=slot), body=body, headers=headers
        )

    async def get(self, reference: str) -> Appointment:
        return await self._call(
            "GET", f"/appointments/{_segment(reference)}", _appointment(reference)
        )

    async def list_for_customer(self, customer_id: str) -> list[Appointment]:
        def appointments(body: dict) -> list[Appointment]:
            found = [Appointment.from_json(a) for a in body["appointments"][:MAX_APPOINTMENTS]]
            return sorted(found, key=lambda a: a.slot.start)

        return await self._call(
            "GET", f"/customers/{_segment(customer_id)}/appointments", _ok(appointments)
        )

    async def reschedule(self, reference: str, slot: Slot) -> Appointment:
        return await self._call(
            "PUT", f"/appointments/{_segment(reference)}/slot",
            _appointment(reference, slot), body={"slot": slot.to_json()},
        )  # fmt: skip

    async def cancel(self, reference: str) -> Appointment:
        return await self._call(
            "POST", f"/appointments/{_segment(reference)}/cancel", _appointment(reference)
        )

    async def _call(
        self, method: str, path: str, interpret: Callable[[int, Any], Result], **options: Any
    ) -> Result:
        try:
            return await self._client.call(method, path, interpret, **options)
        except Unavailable as error:
            raise SchedulingUnavailable(str(error)) from error


def _segment(value: str) -> str:
    return quote(value, safe="")


def _ok(read: Callable[[Any], Result]) -> Callable[[int, Any], Result]:
    def interpret(status: int, body: Any) -> Result:
        if status not in (200, 201):
            raise BadAnswer(f"scheduling system answered {status}")
        try:
            return read(body)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BadAnswer(f"scheduling system answered something unreadable: {error}") from None

    return interpret


def _appointment(
    reference: str | None = None, slot: Slot | None = None
) -> Callable[[int, Any], Appointment]:
    read = _ok(Appointment.from_json)

    def interpret(status: int, body: Any) -> Appointment:
        if status == 404 and reference is not None:
            raise AppointmentNotFound(reference)
        if status == 409 and slot is not None:
            raise SlotTaken(slot)
        return read(status, body)

    return interpret
