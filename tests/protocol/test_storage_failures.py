"""A failing disk under a running bot: /healthz tells, the log stays readable, nothing is lost."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from channels import replies
from config import Settings
from state.sqlite_store import SqliteDocumentStore
from tests.conftest import serve_bot_parts, texts
from tools.local_channel import LocalChannel

STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


async def health(bot_url: str) -> int:
    url = bot_url.replace("/api/messages", "/healthz")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status


def state_files(store: SqliteDocumentStore) -> list[Path]:
    return [Path(f"{store.path}{suffix}") for suffix in ("", "-wal", "-shm")]


@pytest.mark.parametrize("damage", ["overwritten with garbage", "deleted", "replaced"])
async def test_a_damaged_state_file_makes_healthz_503(
    sqlite_settings: Settings, damage: str
) -> None:
    async with (
        serve_bot_parts(sqlite_settings) as (bot_url, parts),
        LocalChannel(bot_url) as channel,
    ):
        conversation = channel.conversation()
        assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]
        assert await health(bot_url) == 200
        store = parts.documents
        assert isinstance(store, SqliteDocumentStore)
        if damage == "overwritten with garbage":
            for path in state_files(store):
                if path.exists():
                    with path.open("r+b") as file:
                        file.write(os.urandom(path.stat().st_size))
        elif damage == "deleted":
            for path in state_files(store):
                path.unlink(missing_ok=True)
        else:  # a new empty database moved in its place
            fresh = store.path.with_name("fresh.sqlite3")
            fresh.write_bytes(b"")
            fresh.replace(store.path)

        assert await health(bot_url) == 503
        assert texts(await conversation.say("where is my order?")) == [replies.TURN_FAILED.text]


async def test_a_full_disk_makes_healthz_503_and_logs_one_traceback(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        serve_bot_parts(sqlite_settings) as (bot_url, parts),
        LocalChannel(bot_url) as channel,
    ):
        store = parts.documents
        assert isinstance(store, SqliteDocumentStore)
        await channel.conversation().say("where is order 123456")

        # SQLite's own "database or disk is full": no page may be added any more.
        def fill() -> None:
            db = store._connection
            assert db is not None
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages + 2}")
            with contextlib.suppress(sqlite3.OperationalError):  # until the disk is full
                for n in range(10_000):
                    db.execute("INSERT INTO documents VALUES (?, '', ?, '', NULL)",
                               (f"filler/{n}", "x" * 512))  # fmt: skip

        await store._run(fill)  # on the store's own thread

        caplog.clear()
        for _ in range(30):
            said = texts(await channel.conversation().say("where is order 123456 " + "x" * 5000))
            assert said == [replies.TURN_FAILED.text]
        assert await health(bot_url) == 503
    failures = [r for r in caplog.records if r.name == "bots.turn_errors"]
    assert sum(1 for r in failures if r.exc_info) == 1
    assert len(caplog.text) < 20_000
