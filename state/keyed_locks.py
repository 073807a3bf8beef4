"""asyncio locks by key: one turn at a time per conversation and per customer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        # One order everywhere, so two holders of overlapping keys cannot deadlock.
        ordered = sorted(set(keys))
        entered: list[str] = []
        held: list[str] = []
        try:
            for key in ordered:
                lock = self._locks.setdefault(key, asyncio.Lock())
                self._users[key] = self._users.get(key, 0) + 1
                entered.append(key)
                await lock.acquire()
                held.append(key)
            yield
        finally:
            for key in reversed(held):
                self._locks[key].release()
            for key in entered:
                self._users[key] -= 1
                if self._users[key] == 0:  # nobody holds or waits: forget it
                    del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
