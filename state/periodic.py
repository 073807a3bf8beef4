"""Work that runs every few seconds beside the turns, started and stopped with the app.

Each run has a deadline, so a slow store or channel cannot pile runs up; a run that
fails is logged and the next one tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from state.documents import StorageError

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self, name: str, every: float, work: Callable[[], Awaitable[None]], deadline: float
    ) -> None:
        self._name = name
        self._every = every
        self._work = work
        self._deadline = deadline
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                async with asyncio.timeout(self._deadline):
                    await self._work()
            except (StorageError, ConnectionError, TimeoutError) as error:
                log.warning("%s: this run failed, the next will try again: %s", self._name,
                            error)  # fmt: skip
            except Exception:
                log.exception("%s: unexpected error", self._name)
