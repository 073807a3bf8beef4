"""Documents in process memory: for tests and throwaway runs (STORAGE=memory).

Documents are kept as JSON text, so what a turn reads is never the object
another turn holds, exactly as with a real database. A document is dropped
once its time-to-live has passed: every so many writes (as many as there
are documents, at least 1,000) the store sweeps out what has expired, so a
sweep costs a constant per write and the process holds what is live plus at
most one sweep's worth.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import orjson

from state.documents import DocumentExists, DocumentWrite, EtagConflict, StoredDocument

_MIN_SWEEP_WRITES = 1000


@dataclass(frozen=True)
class _Entry:
    body: str  # the document as JSON: callers never share the stored one
    etag: str
    expires_at: float | None

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


class MemoryDocumentStore:
    # Several documents in one write() are written all or none.
    writes_atomically = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[str, _Entry] = {}
        # Etags from a counter: unique in this store (it lives in one process), and far
        # cheaper than a random id on every write.
        self._etags = itertools.count(1)
        self._writes_since_sweep = 0
        self._clock = clock

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        now = self._clock()
        found = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and entry.live(now):
                found[key] = StoredDocument(orjson.loads(entry.body), entry.etag)
        return found

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        now = self._clock()
        self._writes_since_sweep += 1
        if self._writes_since_sweep >= max(_MIN_SWEEP_WRITES, len(self._entries)):
            self._sweep(now)
        # Check every precondition before changing anything: all or none.
        for key, write in writes.items():
            entry = self._entries.get(key)
            stored = entry if entry is not None and entry.live(now) else None
            if write.create_only and stored is not None:
                raise DocumentExists(key)
            if write.if_match is not None and (stored is None or stored.etag != write.if_match):
                raise EtagConflict(key)
        etags = {}
        for key, write in writes.items():
            etags[key] = f"m{next(self._etags)}"
            expires_at = now + write.ttl if write.ttl else None
            self._entries[key] = _Entry(
                orjson.dumps(write.data, option=orjson.OPT_NON_STR_KEYS).decode(),
                etags[key],
                expires_at,
            )
        return etags

    def _sweep(self, now: float) -> None:
        self._entries = {key: entry for key, entry in self._entries.items() if entry.live(now)}
        self._writes_since_sweep = 0

    async def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def check(self) -> None:
        pass
