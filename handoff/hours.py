"""When people are there to take a case: opening hours per weekday, holidays, a time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?$")
_SPAN = re.compile(r"^(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})$")
ALWAYS = "mon-sun 00:00-24:00"


@dataclass(frozen=True)
class Span:
    opens: time
    # None: until midnight ("24:00").
    closes: time | None

    def covers(self, moment: time) -> bool:
        return self.opens <= moment and (self.closes is None or moment < self.closes)

    def __str__(self) -> str:
        closes = self.closes.strftime("%H:%M") if self.closes else "24:00"
        return f"{self.opens.strftime('%H:%M')}-{closes}"


@dataclass(frozen=True)
class BusinessHours:
    time_zone: ZoneInfo
    # Weekday (0 = Monday) -> the spans people are there.
    week: dict[int, tuple[Span, ...]]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, hours: str, time_zone: str, holidays: str = "") -> BusinessHours:
        """`hours` like "mon-fri 09:00-17:30; sat 10:00-14:00"; `holidays` like
        "2026-12-25, 2027-01-01". ValueError says what is wrong."""
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{time_zone!r} is not a time zone (e.g. Europe/Berlin)") from None
        week: dict[int, list[Span]] = {}
        for part in filter(None, (p.strip() for p in hours.lower().split(";"))):
            days, _, spans = part.partition(" ")
            for day in _days(days):
                for span in spans.replace(" ", "").split(","):
                    week.setdefault(day, []).append(_span(span))
        if not week:
            raise ValueError('no opening hours: write e.g. "mon-fri 09:00-17:00"')
        try:
            closed = frozenset(
                date.fromisoformat(d.strip()) for d in holidays.split(",") if d.strip()
            )
        except ValueError:
            raise ValueError("holidays must be dates like 2026-12-25, comma-separated") from None
        return cls(zone, {day: tuple(spans) for day, spans in week.items()}, closed)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.time_zone)
        if local.date() in self.holidays:
            return False
        moment = local.time().replace(tzinfo=None)
        return any(span.covers(moment) for span in self.week.get(local.weekday(), ()))

    def __str__(self) -> str:
        days = [
            f"{WEEKDAYS[day].capitalize()} {', '.join(str(s) for s in spans)}"
            for day, spans in sorted(self.week.items())
        ]
        return f"{'; '.join(days)} ({self.time_zone.key})"


def _days(days: str) -> list[int]:
    match = _DAYS.match(days)
    if not match or match["first"] not in WEEKDAYS or (match["last"] or "mon") not in WEEKDAYS:
        raise ValueError(f"{days!r} is not a day or a range of days (mon-fri, sat)")
    first = WEEKDAYS.index(match["first"])
    last = WEEKDAYS.index(match["last"]) if match["last"] else first
    if last < first:
        raise ValueError(f"{days!r} runs backwards (write mon-fri)")
    return list(range(first, last + 1))


def _span(span: str) -> Span:
    match = _SPAN.match(span)
    if not match:
        raise ValueError(f"{span!r} is not a span of hours (09:00-17:00)")
    opens = _time(match["open"])
    closes = None if match["close"] == "24:00" else _time(match["close"])
    if opens is None or (closes is not None and closes <= opens):
        raise ValueError(f"{span!r} closes before it opens")
    return Span(opens, closes)


def _time(value: str) -> time | None:
    hours, minutes = (int(p) for p in value.split(":"))
    if hours == 24 and minutes == 0:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{value!r} is not a time of day")
    return time(hours, minutes)
