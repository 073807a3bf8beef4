"""Fixtures shared by the rings: settings, a fixed clock, a served bot, a stand-in order system."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from app import BOT_PARTS, BotParts, create_app
from channels.reference import ConversationRef
from config import Settings
from customers.accounts import ChannelAccount
from customers.identity import CONTEXT_PROPERTY, customer_key
from dialogs.clock import Clock
from state.documents import DocumentStore
from state.memory_store import MemoryDocumentStore
from state.sqlite_store import SqliteDocumentStore
from tools.local_channel import TEAMS_TENANT
from tools.local_peers import KEY, CosmosServer, free_port

ROOT = Path(__file__).resolve().parents[1]

# 10:00 UTC: demo order 123456 (3 hours out) is expected by 1 PM today.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


class MovableClock:
    """A clock a test moves forward (link codes expire, wrong codes age out)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class YieldingStore(MemoryDocumentStore):
    """The memory store, but every call gives way first, as a real store's I/O does: tasks
    running at once interleave between reading and writing."""

    async def read(self, keys):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return await super().read(keys)

    async def write(self, writes):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return await super().write(writes)


class RecordingChannel:
    """The customers' channels as the hand-off core sees them (an Outbound): records each
    activity sent and each update, per conversation; `broken` makes every call fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.updated: list[tuple[str, str, dict]] = []
        self.broken: Exception | None = None

    async def send(self, to: ConversationRef, activity: dict) -> str:
        if self.broken is not None:
            raise self.broken
        self.sent.append((to.conversation_id, activity))
        return f"activity-{len(self.sent)}"

    async def update(self, to: ConversationRef, activity_id: str, activity: dict) -> None:
        if self.broken is not None:
            raise self.broken
        self.updated.append((to.conversation_id, activity_id, activity))

    def texts_to(self, conversation_id: str) -> list[str]:
        return [a.get("text", "") for c, a in self.sent if c == conversation_id]

    def to(self, conversation_id: str) -> list[dict]:
        return [a for c, a in self.sent if c == conversation_id]


def golden(path: Path, text: str) -> str:
    """The reviewed text kept in `path`, to compare `text` with. After a deliberate change,
    `GOLDEN=write make test` writes the file again: read its diff before committing it."""
    if os.environ.get("GOLDEN") == "write":
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def make_settings(**values: object) -> Settings:
    return Settings.from_mapping({"STORAGE": "memory", **values})


@pytest.fixture(scope="session", autouse=True)
def shared_nlu_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The bots and `python -m nlu` runs the tests start train the recogniser once between
    them (NLU_CACHE_DIR), not once each. A cache given from outside is used as it is:
    `make mutate` shares one between its thousands of test runs."""
    if os.environ.get("NLU_CACHE_DIR"):
        yield
        return
    os.environ["NLU_CACHE_DIR"] = str(tmp_path_factory.mktemp("nlu-cache"))
    yield
    del os.environ["NLU_CACHE_DIR"]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosServer]:
    """One Cosmos DB API server for the session; each test gets its own database."""
    server = CosmosServer()
    server.start()
    yield server
    server.stop()


def cosmos_settings(server: CosmosServer, **values: object) -> Settings:
    return make_settings(
        **{
            "STORAGE": "cosmos",
            "COSMOS_ENDPOINT": server.endpoint,
            "COSMOS_KEY": KEY,
            "COSMOS_DATABASE": f"test-{uuid.uuid4().hex[:12]}",
            "COSMOS_VERIFY_TLS": False,
            "COSMOS_CREATE_CONTAINER": True,
            **values,
        }
    )


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serves `app` on a free loopback port; yields its base URL."""
    # A stand-in that hangs must not hold the test for aiohttp's default 60 s shutdown.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_bot(settings: Settings, clock: Clock = fixed_clock) -> AsyncIterator[str]:
    """The real bot app on a port; yields its /api/messages URL."""
    async with serve_bot_parts(settings, clock) as (url, _):
        yield url


@asynccontextmanager
async def serve_bot_parts(
    settings: Settings, clock: Clock = fixed_clock
) -> AsyncIterator[tuple[str, BotParts]]:
    """The real bot app on a port; yields its /api/messages URL and its parts to inspect."""
    app = create_app(settings, clock=clock)
    async with serve(app) as base_url:
        yield f"{base_url}/api/messages", app[BOT_PARTS]


OrderHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def order_system(handler: OrderHandler) -> AsyncIterator[str]:
    """A stand-in order system answering GET /orders/{orderNumber} with `handler`."""
    app = web.Application()
    app.router.add_get("/orders/{order_number}", handler)
    async with serve(app) as base_url:
        yield base_url


def account_key_of(channel: str, user_id: str, aad_object_id: str | None = None) -> str:
    """The document that maps a channel account to its customer."""
    tenant = TEAMS_TENANT if channel == "msteams" else None
    return f"identity/accounts/{ChannelAccount(channel, user_id, aad_object_id, tenant).key}"


async def stored_customer(
    documents: DocumentStore, channel: str, user_id: str, aad_object_id: str | None = None
) -> tuple[str, dict]:
    """The customer id a channel account maps to, and their stored context (the raw JSON)."""
    mapping = account_key_of(channel, user_id, aad_object_id)
    customer_id = (await documents.read([mapping]))[mapping].data["customerId"]
    key = customer_key(customer_id)
    return customer_id, (await documents.read([key]))[key].data[CONTEXT_PROPERTY]


async def everything_stored(documents: DocumentStore) -> str:
    """Every key and document the store holds, as one text to search."""
    if isinstance(documents, MemoryDocumentStore):
        items = {key: entry.body for key, entry in documents._entries.items()}
    elif isinstance(documents, SqliteDocumentStore):
        with sqlite3.connect(documents.path) as db:
            items = dict(db.execute("SELECT key, body FROM documents"))
    else:
        container = documents._require_container()  # type: ignore[attr-defined]
        items = {item["realId"]: item async for item in container.read_all_items()}
    return json.dumps(items)


def texts(activities: list[dict]) -> list[str]:
    """The words the customer reads: the text of each message (a card adds none)."""
    return [a["text"] for a in activities if a.get("type") == "message" and a.get("text")]


def try_channel(channel: str, tmp_path: Path) -> subprocess.Popen[str]:
    """What `make webchat` or `make playground` runs, with the bot on a free port."""
    return subprocess.Popen(
        [sys.executable, "-m", "tools.try_channel", channel],
        cwd=ROOT,
        env={
            **os.environ,
            "PORT": str(free_port()),
            "DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def printed_address(process: subprocess.Popen[str], ends_with: str) -> str:
    """The address a command prints for a person to open ("open http://... in a browser")."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        match = re.search(r"open (http://\S+)", line)
        if match and match.group(1).endswith(ends_with):
            return match.group(1)
    raise AssertionError(f"no address was printed:\n{''.join(seen)}")
