"""GET /api/analytics: the metrics as JSON, for a dashboard or a script.

`?from=2026-11-01&to=2026-11-24` (UTC days, at most MAX_DAYS; default the last 7 days),
with the header `X-API-Key: <ANALYTICS_API_KEY>`. Without the setting the route answers 404.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from aiohttp import web

from analytics.event_log import StoredEventLog
from analytics.metrics import report
from state.documents import StorageError

log = logging.getLogger(__name__)

ROUTE = "/api/analytics"
MAX_DAYS = 92
DEFAULT_DAYS = 7


class AnalyticsApi:
    def __init__(
        self, events: StoredEventLog, key: str | None, clock: Callable[[], datetime]
    ) -> None:
        self._events = events
        self._key = key
        self._clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(ROUTE, self.metrics)

    async def metrics(self, request: web.Request) -> web.Response:
        if not self._key:
            return _error(404, "the analytics API is off: set ANALYTICS_API_KEY")
        given = request.headers.get("X-API-Key", "")
        if not hmac.compare_digest(given.encode(), self._key.encode()):
            return _error(401, "a valid X-API-Key header is needed")
        today = self._clock().date()
        try:
            last = _day(request.query.get("to"), today)
            first = _day(request.query.get("from"), last - timedelta(days=DEFAULT_DAYS - 1))
        except ValueError:
            return _error(400, "from and to are days like 2026-11-24")
        if first > last:
            return _error(400, "from is after to")
        if (last - first).days + 1 > MAX_DAYS:
            return _error(400, f"at most {MAX_DAYS} days at a time")
        try:
            events = await self._events.read(first, last)
        except StorageError as error:
            log.warning("analytics API: events could not be read: %s", error)
            return _error(503, "the events could not be read; try again shortly")
        return web.json_response(
            {"from": first.isoformat(), "to": last.isoformat(), **report(events)}
        )


def _day(value: str | None, default: date) -> date:
    if value is None:
        return default
    if len(value) != 10:
        raise ValueError(value)
    return date.fromisoformat(value)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
