"""Two bot instances over one Cosmos DB, behind a local round-robin proxy.

As App Service runs a scaled-out app: each activity goes to the next instance, so one
conversation's turns land on both. The same proxy in front of one instance, then of two,
in one run: what the second instance adds. On this machine every process shares its 2
cores (both instances, the proxy and the load, the stand-ins, the Cosmos DB server), so
the figure is a floor for what a second machine adds.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bench.processes import cpu_seconds, serve, start_bot, stop_bot, wait_until_up


class RoundRobin:
    """Forwards each POST to the next instance, and its answer back."""

    def __init__(self, upstreams: list[str]) -> None:
        self._next = itertools.cycle(upstreams)
        self._http: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._http.post(next(self._next), data=body, headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    async def session(self, _: web.Application):
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        yield
        await self._http.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", self.forward)
        app.cleanup_ctx.append(self.session)
        return app


@dataclass
class Scaled:
    instances: int
    turns_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_turn: float  # of all instances together
    errors: int


async def measure_instances(
    instances: int, env: dict[str, str], users: int, seconds: float, connector
) -> Scaled:
    from bench.run import drive, order_status, quantiles_ms

    bots = [start_bot("ours", env) for _ in range(instances)]
    runner = None
    try:
        for process, url in bots:
            await wait_until_up(url.replace("/api/messages", "/healthz"), process)
        runner, proxy = await serve(RoundRobin([url for _, url in bots]).app())
        bot_url = f"{proxy}/api/messages"
        await drive(bot_url, connector, users, min(2.0, seconds), order_status())  # warm up
        before, started = sum(cpu_seconds(process.pid) for process, _ in bots), time.monotonic()
        latencies, errors = await drive(bot_url, connector, users, seconds, order_status())
        elapsed = time.monotonic() - started
        cpu = sum(cpu_seconds(process.pid) for process, _ in bots) - before
    finally:
        if runner is not None:
            await runner.cleanup()
        for process, _ in bots:
            stop_bot(process)
    p50, p99 = quantiles_ms(latencies)
    result = Scaled(
        instances, round(len(latencies) / elapsed, 1), p50, p99,
        round(1000 * cpu / max(len(latencies), 1), 2), errors,
    )  # fmt: skip
    print(
        f"{instances} instance(s) behind the proxy, cosmos: {result.turns_per_second:8.1f} turns/s"
        f"  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  cpu {result.cpu_ms_per_turn:6.2f} ms/turn"
        f"  errors {errors}",
        flush=True,
    )
    return result
