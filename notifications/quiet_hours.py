"""Quiet hours: when an update waits until morning, in the customer's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class QuietHours:
    # None: no quiet hours.
    starts: time | None = None
    ends: time | None = None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """ "21:00-08:00" (across midnight) or "13:00-14:00"; "" for none. ValueError says why."""
        text = text.strip()
        if not text:
            return cls()
        match = _SPAN.match(text.replace(" ", ""))
        if not match:
            raise ValueError('write the hours like "21:00-08:00", or leave it empty for none')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise ValueError(f"{text!r} is not a span of the day (e.g. 21:00-08:00)")
        return cls(time(h1, m1), time(h2, m2))

    def next_allowed(self, at: datetime, zone: tzinfo) -> datetime:
        """`at` when it is outside quiet hours in `zone`; otherwise the moment they end."""
        if self.starts is None or self.ends is None:
            return at
        local = at.astimezone(zone)
        moment = local.time().replace(tzinfo=None)
        if self.starts < self.ends:
            quiet = self.starts <= moment < self.ends
            end_day = local.date()
        else:  # across midnight
            quiet = moment >= self.starts or moment < self.ends
            end_day = local.date() + timedelta(days=1 if moment >= self.starts else 0)
        if not quiet:
            return at
        return datetime.combine(end_day, self.ends, zone).astimezone(at.tzinfo)

    def __str__(self) -> str:
        if self.starts is None or self.ends is None:
            return "none"
        return f"{self.starts:%H:%M}-{self.ends:%H:%M}"
