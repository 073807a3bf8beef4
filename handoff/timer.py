"""The hand-off clock: times out cases nobody took and reminds agents, on every instance.

Each tick reads the queue and changes cases through etag'd writes, so instances ticking
at once make each change once. Started and stopped with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from handoff.service import HandoffService
from state.documents import StorageError

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0
# One tick never runs longer than this (a slow store or channel must not pile ticks up).
TICK_DEADLINE = 10.0


class HandoffTimer:
    def __init__(self, handoff: HandoffService, every: float = TICK_SECONDS) -> None:
        self._handoff = handoff
        self._every = every
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name="handoff-timer")

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
                async with asyncio.timeout(TICK_DEADLINE):
                    await self._handoff.tick()
            except (StorageError, ConnectionError, TimeoutError) as error:
                log.warning("hand-off timer: this tick failed: %s", error)
            except Exception:
                log.exception("hand-off timer: unexpected error in a tick")
