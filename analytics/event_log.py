"""Where conversation events are kept: the bot's own store, written in the background.

`record` never waits and never fails: events go to a bounded buffer, and a writer task
flushes it every FLUSH_SECONDS as one document per flush, `events/<day>/<id>`, listed in
the day's index `events/<day>` (both with the retention as TTL). When the store is down the
buffer holds what it can; past MAX_BUFFERED the oldest events are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, timedelta

from analytics.events import ConversationEvent
from state.documents import (
    DocumentStore,
    DocumentWrite,
    EtagConflict,
    StorageError,
    append_to_list,
)
from state.periodic import Periodic

log = logging.getLogger(__name__)

PREFIX = "events/"
MAX_BUFFERED = 10_000
FLUSH_SECONDS = 2.0
# A flush writes at most this many events in one document.
MAX_PER_DOCUMENT = 500
# One flush never takes longer than this (a hung store must not stop the writer for good).
FLUSH_DEADLINE = 10.0
# Documents listed in one day's index (a busy day: 2,000 flushes of up to 500 events).
MAX_DOCUMENTS_A_DAY = 2_000
_INDEX_ATTEMPTS = 8


def day_key(day: date) -> str:
    return f"{PREFIX}{day.isoformat()}"


class StoredEventLog:
    def __init__(
        self,
        documents: DocumentStore,
        retention_days: int,
        clock: Callable[[], datetime],
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._documents = documents
        self._ttl = retention_days * 24 * 3600 or None
        self._clock = clock
        self._buffer: deque[ConversationEvent] = deque()
        self.dropped = 0
        self._writer = Periodic("analytics-writer", flush_seconds, self.flush, FLUSH_DEADLINE)

    def record(self, event: ConversationEvent) -> None:
        if len(self._buffer) >= MAX_BUFFERED:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("analytics: %d events dropped (the store is not keeping up)",
                            self.dropped)  # fmt: skip
        self._buffer.append(event)

    async def open(self) -> None:
        await self._writer.open()

    async def close(self) -> None:
        await self._writer.close()
        with contextlib.suppress(StorageError, TimeoutError):
            async with asyncio.timeout(FLUSH_DEADLINE):
                await self.flush()  # what is left, on the way out

    async def flush(self) -> None:
        """Writes what is buffered; on a failure the events go back to the buffer's front."""
        while self._buffer:
            batch = [self._buffer.popleft()
                     for _ in range(min(MAX_PER_DOCUMENT, len(self._buffer)))]  # fmt: skip
            try:
                await self._write(batch)
            except (StorageError, TimeoutError, asyncio.CancelledError):
                # Cancelled too (a deadline, the app stopping): the batch is not lost.
                self._buffer.extendleft(reversed(batch))
                while len(self._buffer) > MAX_BUFFERED:
                    self._buffer.pop()
                    self.dropped += 1
                raise

    async def read(self, first: date, last: date) -> list[ConversationEvent]:
        """Every event kept for the days `first` to `last` (UTC), in no particular order."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        indexes = await self._documents.read([day_key(day) for day in days])
        keys = [key for index in indexes.values() for key in index.data.get("documents", [])]
        events: list[ConversationEvent] = []
        for start in range(0, len(keys), 100):
            found = await self._documents.read(keys[start : start + 100])
            for document in found.values():
                events.extend(ConversationEvent.from_json(e) for e in document.data["events"])
        return events

    async def forget(self, customer: str, days: list[date]) -> int:
        """Deletes every event of `customer` (an analytics id) kept for `days` and the day
        after each (a hand-off may end after midnight), and those still buffered; returns
        how many went."""
        before = len(self._buffer)
        self._buffer = deque(e for e in self._buffer if e.customer != customer)
        removed = before - len(self._buffer)
        wanted = sorted({d + timedelta(days=n) for d in days for n in (0, 1)})
        indexes = await self._documents.read([day_key(day) for day in wanted])
        keys = [key for index in indexes.values() for key in index.data.get("documents", [])]
        for key in keys:
            removed += await self._forget_in(key, customer)
        return removed

    async def _forget_in(self, key: str, customer: str) -> int:
        for _ in range(_INDEX_ATTEMPTS):
            stored = (await self._documents.read([key])).get(key)
            if stored is None:
                return 0
            events = stored.data["events"]
            kept = [e for e in events if e.get("customer") != customer]
            if len(kept) == len(events):
                return 0
            try:
                if kept:
                    await self._documents.write({key: DocumentWrite(
                        {**stored.data, "events": kept}, if_match=stored.etag, ttl=self._ttl,
                    )})  # fmt: skip
                else:
                    await self._documents.delete([key])
                return len(events) - len(kept)
            except EtagConflict:
                continue
        raise StorageError(f"events {key} kept changing while a customer was forgotten")

    async def _write(self, batch: list[ConversationEvent]) -> None:
        by_day: dict[date, list[ConversationEvent]] = {}
        for event in batch:
            by_day.setdefault(event.at.date(), []).append(event)
        async with asyncio.timeout(FLUSH_DEADLINE):
            for day, events in by_day.items():
                key = f"{day_key(day)}/{secrets.token_hex(8)}"
                await self._documents.write({key: DocumentWrite(
                    {"events": [e.to_json() for e in events]}, create_only=True, ttl=self._ttl,
                )})  # fmt: skip
                listed = await append_to_list(
                    self._documents, day_key(day), "documents", key,
                    attempts=_INDEX_ATTEMPTS, limit=MAX_DOCUMENTS_A_DAY, ttl=self._ttl,
                )  # fmt: skip
                if not listed:
                    await self._documents.delete([key])
                    self.dropped += len(events)
                    log.warning("analytics: %d events of %s dropped: the day is full",
                                len(events), day)  # fmt: skip
