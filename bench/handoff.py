"""The hand-off relay under load: N customers each with an agent, messages both ways.

Our bot runs as a process (memory storage); one stand-in connector plays both the
customers' Web Chat and the agents' Teams channel. Each customer asks for a person,
an agent takes each case, then for D seconds every pair exchanges messages: the
customer writes, the bot relays it into the case's thread; the agent answers, the
bot relays it to the customer. Relay latency is from the POST to the bot until the
relayed message reaches the other side's connector.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from statistics import quantiles

import aiohttp
from aiohttp import web

from bench.processes import cpu_seconds, serve, start_bot, stop_bot, wait_until_up

AGENTS_CHANNEL = "19:bench-agents@thread.tacv2"
TEAM_ID = "19:bench-team@thread.tacv2"


@dataclass
class RelayResult:
    pairs: int
    seconds: float
    relayed: int
    errors: int
    relayed_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_relay: float


class Connector:
    """Keeps what reaches each conversation; wakes whoever waits for a text."""

    def __init__(self) -> None:
        self.url = ""
        self.cards: list[tuple[str, str]] = []  # (card id, case id)
        self._waiting: dict[tuple[str, str], asyncio.Event] = {}
        self.seen: dict[str, list[str]] = defaultdict(list)

    def expect(self, conversation: str, text: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting[conversation, text] = event
        return event

    async def receive(self, request: web.Request) -> web.Response:
        activity = await request.json()
        conversation = request.match_info["conversation"]
        activity_id = uuid.uuid4().hex
        text = activity.get("text") or ""
        for attachment in activity.get("attachments") or []:
            for action in (attachment.get("content") or {}).get("actions") or []:
                case = (action.get("data") or {}).get("case")
                if case and request.method == "POST":
                    self.cards.append((activity_id, case))
        self.seen[conversation].append(text)
        for (waited_conversation, waited_text), event in list(self._waiting.items()):
            if waited_conversation == conversation and waited_text in text:
                event.set()
                del self._waiting[waited_conversation, waited_text]
        return web.json_response({"id": activity_id})


async def measure_relay(pairs: int, seconds: float) -> RelayResult:
    connector = Connector()
    app = web.Application()
    for path in ("/v3/conversations/{conversation}/activities",
                 "/v3/conversations/{conversation}/activities/{activity}"):  # fmt: skip
        app.router.add_post(path, connector.receive)
        app.router.add_put(path, connector.receive)
    runner, connector.url = await serve(app)
    process, bot_url = start_bot("ours", {"STORAGE": "memory", "HANDOFF_TEAM_ID": TEAM_ID})
    latencies: list[float] = []
    errors = 0
    try:
        await wait_until_up(bot_url.replace("/api/messages", "/healthz"), process)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=pairs * 4),
        ) as http:

            async def post(activity: dict) -> None:
                async with http.post(bot_url, json=activity) as response:
                    await response.read()
                    if response.status >= 300:
                        raise RuntimeError(f"the bot answered {response.status}")

            def customer(conversation: str, **fields: object) -> dict:
                return {"id": uuid.uuid4().hex, "channelId": "webchat",
                        "serviceUrl": connector.url, "conversation": {"id": conversation},
                        "from": {"id": f"u-{conversation}", "name": "Customer"},
                        "recipient": {"id": "bot"}, "type": "message", **fields}  # fmt: skip

            def agent(conversation: str, **fields: object) -> dict:
                return {"id": uuid.uuid4().hex, "channelId": "msteams",
                        "serviceUrl": connector.url, "type": "message",
                        "conversation": {"id": conversation, "conversationType": "channel"},
                        "channelData": {"team": {"id": TEAM_ID}},
                        "from": {"id": "29:agent", "name": "Agent", "aadObjectId": "agent"},
                        "recipient": {"id": "bot"}, **fields}  # fmt: skip

            await post(agent(AGENTS_CHANNEL, text="/desk here"))
            customers = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(pairs)]
            for conversation in customers:
                await post(customer(conversation, text="agent"))
            threads = []
            for card_id, case_id in connector.cards[-pairs:]:
                thread = f"{AGENTS_CHANNEL};messageid={card_id}"
                await post(agent(thread, value={"handoffAction": "take", "case": case_id}))
                threads.append(thread)
            cpu_before, started = cpu_seconds(process.pid), time.monotonic()
            deadline = started + seconds

            async def relay(activity: dict, to: str, text: str) -> None:
                nonlocal errors
                arrived = connector.expect(to, text)
                begun = time.perf_counter()
                try:
                    await post(activity)
                    await asyncio.wait_for(arrived.wait(), 10)
                    latencies.append(time.perf_counter() - begun)
                except (aiohttp.ClientError, TimeoutError, RuntimeError):
                    errors += 1

            async def pair(conversation: str, thread: str) -> None:
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    said = f"customer {conversation} {n}"
                    await relay(customer(conversation, text=said), thread, said)
                    answer = f"agent {conversation} {n}"
                    await relay(agent(thread, text=answer), conversation, answer)

            await asyncio.gather(*(pair(c, t) for c, t in zip(customers, threads, strict=True)))
            elapsed, cpu = time.monotonic() - started, cpu_seconds(process.pid) - cpu_before
    finally:
        stop_bot(process)
        await runner.cleanup()
    cuts = quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result = RelayResult(
        pairs, round(elapsed, 2), len(latencies), errors, round(len(latencies) / elapsed, 1),
        round(cuts[49] * 1000, 1), round(cuts[98] * 1000, 1),
        round(cpu / max(len(latencies), 1) * 1000, 3),
    )  # fmt: skip
    print(
        f"hand-off relay, {pairs} live pairs: {result.relayed_per_second:.1f} relayed/s"
        f"  p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms"
        f"  cpu {result.cpu_ms_per_relay:.2f} ms/relay  errors {errors}",
        flush=True,
    )
    return result
