"""`make bench`: the bot under load, beside the raw aiohttp limit and the samples' pattern.

One run starts, on loopback: a stand-in order API and a stand-in channel connector
(in this process), the local Cosmos DB API server, and each bot as a real process
with its settings in the environment. C users each go through a conversation again and
again for D seconds over real HTTP; every answer is checked. The order-status
conversation (join, "where is my order?", the number) runs on the raw limit
(bench/raw_bot.py, memory), ours and the samples' pattern; the tasks conversation (a
troubleshooting guide to "fixed") on ours. For each it reports turns/s, p50 and p99 turn
latency, errors, the bot process's CPU a turn and memory a customer, and on Cosmos DB
the requests, bytes and request units a turn (bench/cosmos_cost.py); then the ratios,
two instances behind a round-robin proxy (bench/two_instances.py), the hand-off relay
(bench/handoff.py) and updates fanned out to 10,000 customers (bench/fan_out.py).
Results: bench/results.json and bench/results.png; `make capacity` plans from them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from statistics import quantiles
from tempfile import TemporaryDirectory

import aiohttp
from aiohttp import web

from bench.cosmos_cost import CosmosCost, per_turn
from bench.cosmos_cost import counts as cosmos_counts
from bench.fan_out import measure_fan_out
from bench.handoff import measure_relay
from bench.processes import (
    ROOT,
    cpu_seconds,
    resident_mb,
    serve,
    start_bot,
    stop_bot,
    wait_until_up,
)
from bench.two_instances import Scaled, measure_instances
from tools.local_peers import KEY, CosmosServer

RESULTS = ROOT / "bench" / "results.json"
CHART = ROOT / "bench" / "results.png"


@dataclass
class Result:
    bot: str
    storage: str
    users: int
    seconds: float
    turns: int
    errors: int
    turns_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_turn: float
    conversation: str = "order status"
    customers: int = 0
    rss_mb: float = 0.0  # the bot process after the run
    kb_per_customer: float = 0.0  # its growth over the run, a customer (a conversation)
    cosmos: CosmosCost | None = None  # per turn, on Cosmos DB


class Connector:
    """The channel's connector: keeps each conversation's replies (texts) in order."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = defaultdict(list)
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        activity = await request.json()
        if activity.get("type") == "message" and activity.get("text"):
            self.texts[request.match_info["conversation"]].append(activity["text"])
        return web.json_response({"id": uuid.uuid4().hex})


async def order(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    return web.json_response(
        {"orderNumber": number, "status": "out for delivery", "eta": "2030-01-01T18:00:00+00:00"}
    )


# A conversation: what the customer sends each turn, and how the bot's answer starts.
Script = list[tuple[dict, str]]


def order_status() -> Script:
    return [
        ({"type": "message", "text": "where is my order?"}, "Can you provide your order number?"),
        ({"type": "message", "text": "123456"}, "Your order 123456 is"),
    ]


def tasks() -> Script:
    """The tasks added since the order status: a device problem understood, then the
    router guide's steps answered with its buttons to "fixed", read from the guide."""
    from channels import replies
    from troubleshooting.guides import Outcome, load_guides

    guide = load_guides()["router"]
    opener = {"type": "message", "text": "my wifi keeps dropping"}
    fixed: list[Script] = []
    paths: deque[tuple[str, Script]] = deque([(guide.start, [])])
    while paths:
        step, script = paths.popleft()
        for answer, target in guide.steps[step].answers.items():
            said = {"type": "message", "text": answer}
            if target == Outcome.FIXED:
                fixed.append([(opener, guide.steps[guide.start].say), *script,
                              (said, replies.FIXED.text)])  # fmt: skip
            elif target in guide.steps and len(script) < len(guide.steps):
                paths.append((target, [*script, (said, guide.steps[target].say)]))
    return fixed[-1]  # the longest way to "fixed": every step a turn


CONVERSATIONS = {"order status": order_status, "tasks": tasks}


async def drive(
    bot_url: str, connector: Connector, users: int, seconds: float, script: Script | None = None
) -> tuple[list[float], int]:
    script = script if script is not None else order_status()
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=30)
    conn = aiohttp.TCPConnector(limit=users * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:

        async def turn(activity: dict, expected: str) -> None:
            nonlocal errors
            conversation = activity["conversation"]["id"]
            before = len(connector.texts[conversation])
            started = time.perf_counter()
            try:
                async with http.post(bot_url, json=activity) as response:
                    await response.read()
                    ok = response.status < 300
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - started)
            answered = connector.texts[conversation][before:]
            if not ok or not any(text.startswith(expected) for text in answered):
                errors += 1

        def activity(conversation: str, user_id: str, **fields: object) -> dict:
            return {
                "id": uuid.uuid4().hex, "channelId": "webchat", "serviceUrl": connector.url,
                "conversation": {"id": conversation}, "from": {"id": user_id},
                "recipient": {"id": "bot"}, **fields,
            }  # fmt: skip

        async def user() -> None:
            while time.monotonic() < deadline:
                ids = uuid.uuid4().hex, f"user-{uuid.uuid4().hex[:12]}"
                members = [{"id": ids[1]}, {"id": "bot"}]
                await turn(activity(*ids, type="conversationUpdate", membersAdded=members), "Hi")
                for fields, expected in script:
                    await turn(activity(*ids, **fields), expected)

        await asyncio.gather(*(user() for _ in range(users)))
    return latencies, errors


def quantiles_ms(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99, in milliseconds."""
    cuts = quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return round(cuts[49] * 1000, 1), round(cuts[98] * 1000, 1)


async def measure(bot: str, storage: str, env: dict[str, str], users: int, seconds: float,
                  connector: Connector, conversation: str = "order status",
                  cosmos: str | None = None) -> Result:  # fmt: skip
    """`cosmos`: the local Cosmos DB server's endpoint, to count what the turns asked of it."""
    script = CONVERSATIONS[conversation]()
    process, bot_url = start_bot(bot, env)
    try:
        await wait_until_up(bot_url.replace("/api/messages", "/healthz"), process)
        await drive(bot_url, connector, users, min(2.0, seconds), script)  # warm up
        cpu_before, started = cpu_seconds(process.pid), time.monotonic()
        rss_before = resident_mb(process.pid)
        counted = await cosmos_counts(cosmos) if cosmos else {}
        latencies, errors = await drive(bot_url, connector, users, seconds, script)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(process.pid) - cpu_before
        rss_after = resident_mb(process.pid)
        cost = per_turn(counted, await cosmos_counts(cosmos), len(latencies)) if cosmos else None
    finally:
        stop_bot(process)
    customers = len(latencies) // (len(script) + 1)  # each a conversation of its own
    result = Result(
        bot, storage, users, round(elapsed, 2), len(latencies), errors,
        round(len(latencies) / elapsed, 1), *quantiles_ms(latencies),
        round(cpu / max(len(latencies), 1) * 1000, 3), conversation, customers,
        round(rss_after, 1), round(1024 * (rss_after - rss_before) / max(customers, 1), 1), cost,
    )  # fmt: skip
    print(
        f"{bot:>7} {storage:>6} {conversation:>12}: {result.turns_per_second:8.1f} turns/s"
        f"  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
        f"  cpu {result.cpu_ms_per_turn:6.2f} ms/turn  {result.kb_per_customer:6.1f} KB/customer"
        f"  errors {errors}",
        flush=True,
    )
    if cost:
        print(
            f"{'':>29}Cosmos DB a turn: {cost.reads} reads ({cost.kb_read} KB),"
            f" {cost.writes} writes ({cost.kb_written} KB), {cost.deletes} deletes,"
            f" {cost.queries} queries:"
            f" {cost.request_units} RU",
            flush=True,
        )
    return result


async def stand_ins() -> tuple[Connector, str, list[web.AppRunner]]:
    """The channel's connector and the order API, served on loopback: the connector, the
    order API's URL, and the runners to clean up."""
    connector = Connector()
    connector_app = web.Application()
    connector_app.router.add_post("/v3/conversations/{conversation}/activities", connector.receive)
    connector_app.router.add_post(
        "/v3/conversations/{conversation}/activities/{reply_to}", connector.receive
    )
    orders_app = web.Application()
    orders_app.router.add_get("/orders/{number}", order)
    connector_runner, connector.url = await serve(connector_app)
    orders_runner, orders_url = await serve(orders_app)
    return connector, orders_url, [connector_runner, orders_runner]


async def run(
    users: int, seconds: float, storages: list[str], latencies: list[float], keep_alive: bool,
    customers: int = 10_000,
) -> dict:  # fmt: skip
    connector, orders_url, runners = await stand_ins()
    # Each Cosmos DB latency is its own storage: the server holds every request that long.
    runs = [
        (storage, latency)
        for storage in storages
        for latency in (latencies if storage == "cosmos" else [0.0])
    ]
    results: list[Result] = []
    scaled: list[Scaled] = []
    try:
        with TemporaryDirectory() as data_dir:
            for storage, latency in runs:
                label = storage if not latency else f"{storage}+{latency:g}ms"
                env = {"STORAGE": storage, "ORDER_API_URL": orders_url, "DATA_DIR": data_dir}
                cosmos = None
                if storage == "cosmos":
                    cosmos = CosmosServer(keep_alive, latency)
                    label += "" if keep_alive else " closing"
                try:
                    if cosmos:
                        cosmos.start()
                        env.update(
                            COSMOS_ENDPOINT=cosmos.endpoint, COSMOS_KEY=KEY,
                            COSMOS_DATABASE="bench", COSMOS_CONTAINER="state",
                            COSMOS_VERIFY_TLS="false", COSMOS_CREATE_CONTAINER="true",
                        )  # fmt: skip
                    if storage == "memory":
                        # The limit: the same I/O written directly on aiohttp.
                        results.append(await measure("raw", label, env, users, seconds, connector))
                    counted = cosmos.endpoint if cosmos and keep_alive else None
                    for bot in ("ours", "samples") if storage != "sqlite" else ("ours",):
                        results.append(await measure(
                            bot, label, env, users, seconds, connector, cosmos=counted
                        ))  # fmt: skip
                    # The newer tasks (troubleshooting), ours only: the samples have none.
                    results.append(await measure(
                        "ours", label, env, users, seconds, connector, "tasks", counted
                    ))  # fmt: skip
                    if counted and latency == max(latencies):
                        # Two instances over one Cosmos DB behind a round-robin proxy, beside
                        # one behind the same proxy.
                        for instances in (1, 2):
                            scaled.append(await measure_instances(
                                instances, env, users, seconds, connector
                            ))  # fmt: skip
                    if storage == "memory":
                        # What recording analytics events costs, side by side.
                        quiet = {**env, "ANALYTICS_EVENTS": "false"}
                        results.append(await measure(
                            "ours", f"{label} no events", quiet, users, seconds, connector
                        ))  # fmt: skip
                finally:
                    if cosmos:
                        cosmos.stop()
    finally:
        for runner in runners:
            await runner.cleanup()
    by = {(r.bot, r.storage): r for r in results if r.conversation == "order status"}
    ratios = {
        storage: round(
            by["ours", storage].turns_per_second / by["samples", storage].turns_per_second, 1
        )
        for (bot, storage) in by
        if bot == "ours" and ("samples", storage) in by
    }
    for storage, ratio in ratios.items():
        print(f"ours / samples' pattern, {storage}: {ratio}x turns/s")
    if ("raw", "memory") in by:
        share = by["ours", "memory"].turns_per_second / by["raw", "memory"].turns_per_second
        ratios["ours / raw aiohttp, memory"] = round(share, 3)
        print(f"ours / the raw aiohttp limit, memory: {100 * share:.1f} %")
    if ("ours", "memory no events") in by and ("ours", "memory") in by:
        with_events = by["ours", "memory"].turns_per_second
        without = by["ours", "memory no events"].turns_per_second
        ratios["events on / off, memory"] = round(with_events / without, 3)
        print(f"analytics events on / off, memory: {with_events} / {without} turns/s")
    relay = await measure_relay(users, seconds)
    fan_out = [await measure_fan_out(storage, customers)
               for storage in ("memory", "sqlite") if storage in storages]  # fmt: skip
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}",
        "users": users,
        "seconds": seconds,
        "cosmos_latencies_ms": latencies,
        "cosmos_keeps_connections": keep_alive,
        "results": [asdict(r) for r in results],
        "ratios_turns_per_second": ratios,
        "handoff_relay": asdict(relay),
        "updates_fan_out": [asdict(result) for result in fan_out],
        "instances_behind_a_proxy": {
            "cosmos_latency_ms": max(latencies) if scaled else None,
            "results": [asdict(result) for result in scaled],
        },
    }


def chart(report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    # "cosmos+5ms" -> "cosmos\n+5 ms": one storage a group, its bots side by side.
    labels = [
        f"{r['bot']}\n{r['storage'].replace('+', chr(10) + '+').replace('ms', ' ms')}"
        + ("\n(tasks)" if r.get("conversation") == "tasks" else "")
        for r in results
    ]
    colors = [{"ours": "#2E5BFF", "raw": "#1B998B"}.get(r["bot"], "#9AA5B1") for r in results]
    figure, (speed, latency) = plt.subplots(2, 1, figsize=(12, 8))
    for axes, field, title in (
        (speed, "turns_per_second", "turns per second (higher is better)"),
        (latency, "p99_ms", "p99 turn latency, ms (lower is better)"),
    ):
        bars = axes.bar(range(len(results)), [r[field] for r in results], color=colors)
        axes.bar_label(bars, fmt="%.0f", fontsize=7)
        axes.set_xticks(range(len(results)), labels, fontsize=7)
        axes.margins(x=0.01)
        axes.set_title(title, fontsize=10)
    figure.suptitle(
        f"{report['users']} users, {report['seconds']:.0f} s each; {report['machine']}",
        fontsize=8,
    )
    figure.tight_layout()
    figure.savefig(CHART, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description="the order-status conversation under load")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--storages", default="memory,sqlite,cosmos")
    parser.add_argument("--customers", type=int, default=10_000,
                        help="customers the fan-out of updates reaches")  # fmt: skip
    parser.add_argument(
        "--cosmos-latency-ms", default="0,5",
        help="comma-separated: Cosmos DB runs, each with this round trip added to every request",
    )  # fmt: skip
    parser.add_argument(
        "--cosmos-closes-connections", action="store_true",
        help="the Cosmos DB server's own CLI, which closes every connection (a TLS handshake "
        "a request); no latency is added",
    )  # fmt: skip
    arguments = parser.parse_args()
    keep_alive = not arguments.cosmos_closes_connections
    latencies = [float(ms) for ms in arguments.cosmos_latency_ms.split(",")] if keep_alive else [0]
    report = asyncio.run(
        run(arguments.users, arguments.seconds, arguments.storages.split(","), latencies,
            keep_alive, arguments.customers)
    )  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    chart(report)
    print(f"results: {RESULTS.relative_to(ROOT)}, chart: {CHART.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
