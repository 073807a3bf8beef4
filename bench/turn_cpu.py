"""The CPU a turn costs inside the bot, without HTTP: the order-status conversation through
botbuilder's TestAdapter, on memory storage, everything else on (understanding, events,
subscriptions, languages, frustration). The least of several rounds is reported: on a
shared machine the least is the bot's own cost, the rest is other processes.

    python -m bench.turn_cpu [--conversations 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from app import build_bot
from bots.analytics_middleware import AnalyticsMiddleware
from config import Settings

CONVERSATION = ("where is my order?", "123456")


async def one_round(conversations: int) -> float:
    """CPU milliseconds a turn over `conversations` conversations of this round."""
    parts = build_bot(Settings.from_mapping({"STORAGE": "memory", "LOG_LEVEL": "WARNING"}))
    adapter = TestAdapter(parts.bot.on_turn)
    adapter.use(AnalyticsMiddleware(lambda event: None, lambda: datetime.now(UTC)))

    async def turn(activity: Activity) -> None:
        context = TurnContext(adapter, activity)
        await adapter.run_pipeline(context, parts.bot.on_turn)
        adapter.activity_buffer.clear()

    turns = 0
    started = time.process_time()
    for _ in range(conversations):
        conversation = ConversationAccount(id=uuid.uuid4().hex)
        user = ChannelAccount(id=f"user-{uuid.uuid4().hex[:12]}")
        for text in CONVERSATION:
            await turn(Activity(
                type=ActivityTypes.message, text=text, id=uuid.uuid4().hex, channel_id="webchat",
                conversation=conversation, from_property=user,
                recipient=ChannelAccount(id="bot"), service_url="https://test.example",
            ))  # fmt: skip
            turns += 1
    return 1000 * (time.process_time() - started) / turns


async def measure(conversations: int, rounds: int) -> list[float]:
    await one_round(20)  # warm up: models loaded, caches filled
    return [await one_round(conversations) for _ in range(rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.turn_cpu")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    costs = asyncio.run(measure(args.conversations, args.rounds))
    print(
        f"CPU a turn: least {min(costs):.2f} ms, median {statistics.median(costs):.2f} ms "
        f"({args.rounds} rounds of {args.conversations} conversations)"
    )


if __name__ == "__main__":
    main()
