"""Work beside the turns (the update sender, the hand-off clock, the analytics writer): a
run that fails, hangs or breaks never stops the next one."""

from __future__ import annotations

import asyncio
import logging

import pytest

from state.documents import StorageUnavailable
from state.periodic import Periodic


async def test_every_failure_is_logged_and_the_next_run_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = ["store down", "hang", "bug", "ok", "ok"]
    finished: list[str] = []
    done = asyncio.Event()

    async def work() -> None:
        outcome = outcomes.pop(0) if outcomes else "ok"
        if outcome == "store down":
            raise StorageUnavailable("the store is down")
        if outcome == "hang":
            await asyncio.sleep(3600)  # stopped by the run's deadline
        if outcome == "bug":
            raise KeyError("surprise")
        finished.append(outcome)
        if len(finished) == 2:
            done.set()

    job = Periodic("sender", 0.01, work, deadline=0.2)
    caplog.set_level(logging.WARNING, "state.periodic")
    await job.open()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await job.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings][:2] == [
        "sender: this run failed, the next will try again: the store is down",
        "sender: this run failed, the next will try again: ",
    ]
    [unexpected] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert unexpected.getMessage() == "sender: unexpected error" and unexpected.exc_info


async def test_closing_stops_the_runs() -> None:
    runs = 0
    twice = asyncio.Event()

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            twice.set()

    job = Periodic("writer", 0.01, work, deadline=1)
    await job.open()
    await asyncio.wait_for(twice.wait(), 10)
    await job.close()
    stopped_at = runs
    await asyncio.sleep(0.05)
    assert runs == stopped_at
    await job.close()  # twice is fine
