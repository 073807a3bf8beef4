"""POST /api/order-events: the order system tells the bot an order changed.

The contract is in notifications/order_events.py and the README ("Telling customers
first"). Answers: 202 accepted, 200 already accepted (the same event id), 400 not an
order event, 401 a missing or wrong signature or a stale event, 413 too large,
415 not JSON, 503 the bot's store is unavailable (send it again), 404 the route is off
(ORDER_EVENTS_SIGNING_KEY is unset).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from notifications.order_events import (
    MAX_EVENT_BYTES,
    BadEvent,
    fresh,
    parse,
)
from notifications.updates import Updates
from services.resilient_http import read_at_most
from services.signatures import SIGNATURE_HEADER, signed_by
from state.documents import StorageError

log = logging.getLogger(__name__)

ROUTE = "/api/order-events"


class OrderEventsApi:
    def __init__(
        self,
        updates: Updates,
        signing_key: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._updates = updates
        self._key = signing_key
        self._clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        if not self._key:
            return _answer(404, error="order events are off: set ORDER_EVENTS_SIGNING_KEY")
        if request.content_type != "application/json":
            return _answer(415, error="Content-Type must be application/json")
        if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
            return _answer(413, error=f"an event may be at most {MAX_EVENT_BYTES} bytes")
        body = await read_at_most(request.content, MAX_EVENT_BYTES)
        if len(body) > MAX_EVENT_BYTES:
            return _answer(413, error=f"an event may be at most {MAX_EVENT_BYTES} bytes")
        if not signed_by(body, request.headers.get(SIGNATURE_HEADER), self._key):
            return _answer(401, error=f"a valid {SIGNATURE_HEADER} header is needed")
        try:
            event = parse(body)
        except BadEvent as error:
            return _answer(400, error=str(error))
        if not fresh(event, self._clock()):
            return _answer(401, error="occurredAt is more than 5 minutes from now")
        try:
            told = await self._updates.order_changed(event)
        except StorageError as error:
            log.warning("order event %s not accepted: %s", event.event_id, error)
            return _answer(503, error="the event could not be stored; send it again")
        if told is None:
            return _answer(200, status="alreadyAccepted")
        log.info("order event %s: %d update(s) queued", event.event_id, told)
        return _answer(202, status="accepted")


def _answer(code: int, **fields: str) -> web.Response:
    return web.json_response(fields, status=code)
