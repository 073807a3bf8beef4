"""Fixtures shared by the rings: settings, a fixed clock, a served bot, a stand-in order system."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from app import create_app
from config import Settings
from customers.accounts import ChannelAccount
from customers.identity import CONTEXT_PROPERTY, customer_key
from state.documents import DocumentStore
from tests.peers.cosmos_server import KEY, CosmosServer

# 10:00 UTC: demo order 123456 (3 hours out) is expected by 1 PM today.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def make_settings(**values: object) -> Settings:
    return Settings.from_mapping({"STORAGE": "memory", **values})


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
async def serve_bot(settings: Settings) -> AsyncIterator[str]:
    """The real bot app on a port; yields its /api/messages URL."""
    async with serve(create_app(settings, clock=fixed_clock)) as base_url:
        yield f"{base_url}/api/messages"


OrderHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def order_system(handler: OrderHandler) -> AsyncIterator[str]:
    """A stand-in order system answering GET /orders/{orderNumber} with `handler`."""
    app = web.Application()
    app.router.add_get("/orders/{order_number}", handler)
    async with serve(app) as base_url:
        yield base_url


async def stored_customer(
    documents: DocumentStore, channel: str, user_id: str, aad_object_id: str | None = None
) -> tuple[str, dict]:
    """The customer id a channel account maps to, and their stored context (the raw JSON)."""
    account = ChannelAccount(channel, user_id, aad_object_id)
    mapping = f"identity/accounts/{account.key}"
    customer_id = (await documents.read([mapping]))[mapping].data["customerId"]
    key = customer_key(customer_id)
    return customer_id, (await documents.read([key]))[key].data[CONTEXT_PROPERTY]
