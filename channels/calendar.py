"""An appointment as an iCalendar (.ics) file, for the channels that can offer one."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event

PRODUCT_ID = "-//customer-service-bot//appointments//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str  # the appointment's reference: a calendar updates the event, not a copy
    title: str
    start: datetime
    end: datetime
    location: str | None = None

    def file_name(self) -> str:
        return f"appointment-{self.uid}.ics"

    def ics(self, stamped: datetime) -> bytes:
        calendar = Calendar()
        calendar.add("prodid", PRODUCT_ID)
        calendar.add("version", "2.0")
        event = Event()
        event.add("uid", self.uid)
        event.add("dtstamp", stamped)
        event.add("dtstart", self.start)
        event.add("dtend", self.end)
        event.add("summary", self.title)
        if self.location:
            event.add("location", self.location)
        calendar.add_component(event)
        return calendar.to_ical()

    def data_url(self, stamped: datetime) -> str:
        return "data:text/calendar;base64," + base64.b64encode(self.ics(stamped)).decode("ascii")
