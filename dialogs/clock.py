"""The time of day as the customer sees it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botbuilder.schema import Activity

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now().astimezone()


def customer_now(activity: Activity, clock: Clock) -> datetime:
    """Now, in the customer's time zone when the channel tells it (Web Chat does)."""
    zone: tzinfo | None = None
    if activity.local_timezone:
        try:
            zone = ZoneInfo(activity.local_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    if zone is None and activity.local_timestamp is not None:
        zone = activity.local_timestamp.tzinfo
    now = clock()
    return now.astimezone(zone) if zone else now
