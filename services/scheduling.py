"""Appointments: what the bot knows about them, and the contract of a scheduling system.

Plain Python: no botbuilder types. An appointment is of one kind (an in-store repair, a
home installation, a technician visit, a phone call back), at one place (a store, the
customer's home, or by phone), in one slot of the kind's length. Every time is an aware
datetime; the customer's words ("Friday afternoon") are turned into one by nlu/entities.py.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

DEMO_SCHEDULE_FILE = Path(__file__).with_name("demo_schedule.json")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Never digits only, so a reference is never taken for an order number; no 0/O or 1/I.
_REFERENCE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFERENCE_PREFIX = "AP-"
# A slot starts at least this long after the booking, so someone can prepare.
LEAD_TIME = timedelta(hours=2)
# How far ahead free slots are looked for.
HORIZON = timedelta(days=28)


class AppointmentKind(StrEnum):
    IN_STORE_REPAIR = "inStoreRepair"
    HOME_INSTALLATION = "homeInstallation"
    TECHNICIAN_VISIT = "technicianVisit"
    CALL_BACK = "callBack"


class Place(StrEnum):
    STORE = "store"
    HOME = "home"
    PHONE = "phone"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class KindInfo:
    kind: AppointmentKind
    label: str
    place: Place
    length: timedelta


OpeningHours = dict[str, tuple[time, time]]  # weekday ("mon") -> opens, closes


@dataclass(frozen=True)
class Store:
    id: str
    name: str
    address: str
    hours: OpeningHours


@dataclass(frozen=True)
class Slot:
    kind: AppointmentKind
    # A store's id for in-store kinds; "home" or "phone" otherwise.
    where: str
    start: datetime
    end: datetime

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "where": self.where,
                "start": self.start.isoformat(), "end": self.end.isoformat()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Slot:
        start, end = datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])
        return cls(AppointmentKind(data["kind"]), str(data["where"]), start, end)


@dataclass(frozen=True)
class Appointment:
    reference: str
    customer_id: str
    slot: Slot
    status: AppointmentStatus = AppointmentStatus.BOOKED
    # The customer's address for home visits; what the appointment is about ("TV wall
    # mount", the troubleshooting steps already tried).
    address: str | None = None
    device: str | None = None
    notes: str | None = None
    history: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {
            "reference": self.reference, "customerId": self.customer_id,
            "slot": self.slot.to_json(), "status": self.status.value,
            "address": self.address, "device": self.device, "notes": self.notes,
            "history": list(self.history),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Appointment:
        return cls(
            str(data["reference"]), str(data["customerId"]), Slot.from_json(data["slot"]),
            AppointmentStatus(data.get("status", "booked")), data.get("address"),
            data.get("device"), data.get("notes"), tuple(data.get("history") or ()),
        )  # fmt: skip


@dataclass(frozen=True)
class BookingDetails:
    address: str | None = None
    device: str | None = None
    notes: str | None = None


class SlotTaken(Exception):
    """Someone else booked the slot first; offer the next free ones."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(f"{slot.kind} at {slot.where} {slot.start.isoformat()} is taken")
        self.slot = slot


class AppointmentNotFound(Exception):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no appointment {reference}")
        self.reference = reference


class SchedulingUnavailable(Exception):
    """The scheduling system could not answer within the deadline."""


class UnknownPlace(ValueError):
    """A store the catalogue does not have, or a place that does not fit the kind."""


@dataclass(frozen=True)
class Catalogue:
    """The kinds of appointment, the stores, and when each can take one."""

    time_zone: ZoneInfo
    kinds: dict[AppointmentKind, KindInfo]
    stores: dict[str, Store]
    service_hours: OpeningHours

    @classmethod
    def from_file(cls, path: Path = DEMO_SCHEDULE_FILE) -> Catalogue:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_json(cls, data: dict) -> Catalogue:
        """From the shape of services/demo_schedule.json; KeyError, TypeError or ValueError
        when it is not that."""
        kinds = {
            AppointmentKind(name): KindInfo(
                AppointmentKind(name),
                k["label"],
                Place(k["place"]),
                timedelta(minutes=int(k["minutes"])),
            )
            for name, k in data["kinds"].items()
        }
        stores = {
            s["id"]: Store(s["id"], s["name"], s["address"], _hours(s["hours"]))
            for s in data["stores"]
        }
        return cls(ZoneInfo(data["timeZone"]), kinds, stores, _hours(data["serviceHours"]))

    def place_of(self, kind: AppointmentKind) -> Place:
        return self.kinds[kind].place

    def check_where(self, kind: AppointmentKind, where: str) -> None:
        place = self.place_of(kind)
        if place == Place.STORE and where not in self.stores:
            raise UnknownPlace(f"no store {where!r}")
        if place != Place.STORE and where != place.value:
            raise UnknownPlace(f"a {kind.value} is at {place.value}, not {where!r}")

    def hours_on(self, kind: AppointmentKind, where: str, day: date) -> tuple[time, time] | None:
        """When the place takes this kind of appointment on that day, or None (closed)."""
        self.check_where(kind, where)
        hours = self.stores[where].hours if where in self.stores else self.service_hours
        return hours.get(WEEKDAYS[day.weekday()])

    def slots_on(self, kind: AppointmentKind, where: str, day: date) -> list[Slot]:
        """Every slot of the day, back to back from opening, ending by closing time."""
        hours = self.hours_on(kind, where, day)
        if hours is None:
            return []
        length = self.kinds[kind].length
        start = datetime.combine(day, hours[0], self.time_zone)
        closes = datetime.combine(day, hours[1], self.time_zone)
        slots = []
        while start + length <= closes:
            slots.append(Slot(kind, where, start, start + length))
            start += length
        return slots


def _hours(data: dict[str, list[str]]) -> OpeningHours:
    return {
        day: (time.fromisoformat(opens), time.fromisoformat(closes))
        for day, (opens, closes) in data.items()
    }


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(_REFERENCE_LETTERS) for _ in range(6))


def nearest_first(slots: list[Slot], around: datetime) -> list[Slot]:
    return sorted(slots, key=lambda s: (abs(s.start - around), s.start))


class SchedulingService(Protocol):
    """A company's scheduling system. Each call raises SchedulingUnavailable when the
    system does not answer in time."""

    async def catalogue(self) -> Catalogue:
        """The kinds of appointment and the places that take them."""
        ...

    async def free_slots(
        self, kind: AppointmentKind, where: str, around: datetime, count: int
    ) -> list[Slot]:
        """Up to `count` free slots nearest to `around`, none in the past."""
        ...

    async def book(self, customer_id: str, slot: Slot, details: BookingDetails) -> Appointment:
        """Raises SlotTaken when someone booked it first."""
        ...

    async def get(self, reference: str) -> Appointment:
        """Raises AppointmentNotFound."""
        ...

    async def list_for_customer(self, customer_id: str) -> list[Appointment]:
        """The customer's booked appointments still to come, soonest first."""
        ...

    async def reschedule(self, reference: str, slot: Slot) -> Appointment:
        """Raises AppointmentNotFound or SlotTaken (the appointment keeps its old slot)."""
        ...

    async def cancel(self, reference: str) -> Appointment:
        """Raises AppointmentNotFound."""
        ...
