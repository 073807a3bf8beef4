"""Whether turns can currently be saved, from what recent turns saw.

A probe cannot see every way storage fails (a disk full except for a probe's small
row, a Cosmos DB partition that throttles): turns that keep failing to save can.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# This many turns in a row failed on storage, the last within FAILING_FOR seconds: failing.
FAILED_TURNS = 3
FAILING_FOR = 60.0


class StorageHealth:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures_in_a_row = 0
        self._last_failure = 0.0

    def saved(self) -> None:
        self._failures_in_a_row = 0

    def failed(self) -> None:
        self._failures_in_a_row += 1
        self._last_failure = self._clock()

    @property
    def failing(self) -> bool:
        return (
            self._failures_in_a_row >= FAILED_TURNS
            and self._clock() - self._last_failure < FAILING_FOR
        )
