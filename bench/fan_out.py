"""Updates fanned out: N customers each following an order, one event per order.

The bot runs in its own process, built by `create_app` as `make run` builds it (quiet
hours off), on memory or SQLite storage; before it serves, N customers are written
into its store, each with a Teams personal chat on the stand-in connector and a
subscription, as a customer who said "Keep me posted" has. Then every order's event is
POSTed, signed, to /api/order-events, and the clock runs until every update has
reached the connector. Reported: events accepted
per second, updates delivered per second (from the first event to the last delivery),
the bot's CPU per update, and what the outbox holds: its documents' bytes in the store
while the updates are pending, and the bot's resident memory before and after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import aiohttp
from aiohttp import web

from app import BOT_PARTS, create_app, settle_heap
from bench.processes import cpu_seconds, resident_mb, serve, wait_until_up
from channels.reference import ConversationRef
from config import load_settings
from customers.context import CustomerContext, Topic
from customers.identity import CONTEXT_PROPERTY, customer_key
from notifications.updates import followers_key
from services.signatures import SIGNATURE_HEADER, signature
from state.documents import DocumentStore, DocumentWrite
from state.sqlite_store import SqliteDocumentStore
from tools.local_peers import free_port

KEY = "bench-order-events-signing-key-0123456789"
TEAMS_TENANT = "00000000-0000-4000-8000-0000000000bb"


@dataclass
class FanOutResult:
    storage: str
    customers: int
    events_per_second: float
    delivered: int
    updates_per_second: float
    seconds: float
    cpu_ms_per_update: float
    outbox_bytes_pending: int
    outbox_bytes_per_update: float
    rss_mb_before: float
    rss_mb_after: float


class Connector:
    def __init__(self, expected: int) -> None:
        self.url = ""
        self.delivered = 0
        self.customers: set[str] = set()
        self.first: float | None = None
        self.done = asyncio.Event()
        self._expected = expected

    async def receive(self, request: web.Request) -> web.Response:
        await request.read()
        self.delivered += 1  # a second update to one customer would count here
        self.customers.add(request.match_info["conversation"])
        if len(self.customers) >= self._expected:
            self.done.set()
        return web.json_response({"id": str(self.delivered)})


def order_number(n: int) -> str:
    return str(100_000_000 + n)


async def seed(documents: DocumentStore, customers: int, service_url: str) -> None:
    """Customers who asked for updates about their order, each on a Teams personal chat."""
    now = datetime.now(UTC)
    for start in range(0, customers, 500):
        writes = {}
        for n in range(start, min(start + 500, customers)):
            account = f"msteams/aad/{TEAMS_TENANT}/user-{n}"
            context = CustomerContext()
            context.reach[account] = ConversationRef(
                channel_id="msteams", service_url=service_url,
                conversation_id=f"a:personal-{n}", user_id=f"29:user-{n}",
                bot_id="28:bot", conversation_type="personal", tenant_id=TEAMS_TENANT,
            )  # fmt: skip
            context.last_inbound_at[account] = now
            context.subscribe(Topic.ORDER, order_number(n), now, "msteams")
            customer = f"c-bench-{n}"
            writes[customer_key(customer)] = DocumentWrite({CONTEXT_PROPERTY: context.to_json()})
            writes[followers_key(order_number(n))] = DocumentWrite({"customers": [customer]})
        await documents.write(writes)


def serve_seeded(env: dict[str, str], customers: int, service_url: str) -> None:
    """The child process: the bot's app, its store seeded, served until stopped."""
    os.environ.update(env)
    settings = load_settings(env_file=None)
    app = create_app(settings)

    async def seeded(app: web.Application) -> None:
        await seed(app[BOT_PARTS].documents, customers, service_url)

    # After the app's own start-up (its cleanup_ctx opens the store).
    app.on_startup.append(seeded)
    app.on_startup.append(settle_heap)  # as the bot's own process does
    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, host="127.0.0.1", port=settings.PORT, print=None, access_log=None)


def outbox_bytes(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / SqliteDocumentStore.FILE_NAME) as db:
        (size,) = db.execute(
            "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM documents WHERE key LIKE 'outbox/%'"
        ).fetchone()
    return int(size)


async def measure_fan_out(
    storage: str, customers: int = 10_000, concurrency: int = 32
) -> FanOutResult:
    connector = Connector(customers)
    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation}/activities", connector.receive)
    runner, connector.url = await serve(app)
    with TemporaryDirectory() as directory:
        data_dir = Path(directory)
        port = free_port()
        env = {"STORAGE": storage, "DATA_DIR": directory, "ORDER_EVENTS_SIGNING_KEY": KEY,
               "QUIET_HOURS": "", "UPDATES_PER_DAY": "50", "PORT": str(port),
               "LOG_LEVEL": "WARNING"}  # fmt: skip
        process = multiprocessing.get_context("spawn").Process(
            target=serve_seeded, args=(env, customers, connector.url), daemon=True
        )
        process.start()
        events_url = f"http://127.0.0.1:{port}/api/order-events"
        try:
            # Seeding ten thousand customers takes a while before the bot serves.
            await wait_until_up(f"http://127.0.0.1:{port}/healthz", process, seconds=120)
            pid = process.pid or 0
            rss_before = resident_mb(pid)
            cpu_before, started = cpu_seconds(pid), time.monotonic()
            pending_bytes = 0
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency)
            ) as http:
                queue = list(range(customers))

                async def post_events() -> None:
                    while queue:
                        n = queue.pop()
                        event = {"eventId": f"bench-{n}", "orderNumber": order_number(n),
                                 "status": "out for delivery", "eta": None,
                                 "occurredAt": datetime.now(UTC).isoformat()}  # fmt: skip
                        body = json.dumps(event).encode()
                        headers = {"Content-Type": "application/json",
                                   SIGNATURE_HEADER: signature(body, KEY)}  # fmt: skip
                        async with http.post(events_url, data=body, headers=headers) as answer:
                            if answer.status != 202:
                                raise RuntimeError(f"an event was answered {answer.status}")

                await asyncio.gather(*(post_events() for _ in range(concurrency)))
                accepted = time.monotonic() - started
                if storage == "sqlite":
                    pending_bytes = outbox_bytes(data_dir)
                await asyncio.wait_for(connector.done.wait(), timeout=600)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(pid) - cpu_before
            rss_after = resident_mb(pid)
        finally:
            if process.pid:
                os.kill(process.pid, signal.SIGINT)
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
            await runner.cleanup()
    result = FanOutResult(
        storage, customers, round(customers / accepted, 1), connector.delivered,
        round(connector.delivered / elapsed, 1), round(elapsed, 2),
        round(cpu / max(connector.delivered, 1) * 1000, 3), pending_bytes,
        round(pending_bytes / customers, 1), round(rss_before, 1), round(rss_after, 1),
    )  # fmt: skip
    print(
        f"updates fanned out to {customers} customers, {storage}: {result.updates_per_second:.0f} "
        f"delivered/s ({result.events_per_second:.0f} events accepted/s), "
        f"cpu {result.cpu_ms_per_update:.2f} ms/update, "
        + (f"outbox {pending_bytes / 1e6:.1f} MB while pending, " if pending_bytes else "")
        + f"RSS {result.rss_mb_before:.0f} -> {result.rss_mb_after:.0f} MB",
        flush=True,
    )
    return result


if __name__ == "__main__":
    for storage in ("memory", "sqlite"):
        asyncio.run(measure_fan_out(storage))
