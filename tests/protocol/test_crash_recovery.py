"""A bot process killed mid-turn: the channel's redelivery is answered once, after restart."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import order_system, texts
from tests.protocol.test_processes import running_bot
from tools.local_channel import LocalChannel
from tools.local_peers import KEY

STATUS_123456 = "Your order 123456 is out for delivery"
LEASE = 2.0


@pytest.fixture(params=["sqlite", "cosmos"])
def storage_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {"STORAGE": "sqlite"}
    server = request.getfixturevalue("cosmos_server")
    return {
        "STORAGE": "cosmos",
        "COSMOS_ENDPOINT": server.endpoint,
        "COSMOS_KEY": KEY,
        "COSMOS_DATABASE": f"crash-{uuid.uuid4().hex[:12]}",
        "COSMOS_VERIFY_TLS": "false",
        "COSMOS_CREATE_CONTAINER": "true",
    }


async def test_a_message_whose_turn_was_killed_is_answered_once_after_restart(
    tmp_path: Path, storage_env: dict[str, str]
) -> None:
    asked = asyncio.Event()
    hang = True

    async def orders(request: web.Request) -> web.Response:
        asked.set()
        if hang:
            await asyncio.sleep(3600)
        number = request.match_info["order_number"]
        return web.json_response({"orderNumber": number, "status": "out for delivery",
                                  "eta": "2026-11-24T13:00:00+00:00"})  # fmt: skip

    async with order_system(orders) as orders_url, LocalChannel("") as channel:
        env = {"ORDER_API_URL": orders_url, "ACTIVITY_LEASE_SECONDS": str(LEASE), **storage_env}
        conversation = channel.conversation()
        message = conversation.activity(type="message", text="where is order 123456")
        with running_bot(tmp_path, **env) as (bot, port):
            channel.bot_url = f"http://127.0.0.1:{port}/api/messages"
            first = asyncio.create_task(channel.post(message))
            await asyncio.wait_for(asked.wait(), 10)
            claimed_at = time.monotonic()
            # The channel redelivers while the turn is still running: not answered twice.
            assert (await channel.post(message)).status < 300
            os.kill(bot.pid, signal.SIGKILL)
            with pytest.raises(Exception):  # noqa: B017 - the connection just dies
                await first
            bot.wait(timeout=10)
        assert texts(channel.received(conversation.id)) == []

        hang = False
        with running_bot(tmp_path, **env) as (_, port):
            channel.bot_url = f"http://127.0.0.1:{port}/api/messages"
            await asyncio.sleep(max(0.0, claimed_at + LEASE - time.monotonic()))
            assert (await channel.post(message)).status < 300
            assert (await channel.post(message)).status < 300  # and once more
        said = texts(channel.received(conversation.id))
    assert len(said) == 1 and said[0].startswith(STATUS_123456)
