"""Peer ring: Teams-shaped traffic from the Microsoft 365 Agents Playground (-c msteams)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.conftest import make_settings, serve_bot
from tools.local_peers import AgentsPlayground


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message the bot posted into the Playground's chat."""
    async with asyncio.timeout(20):
        while True:
            frame = json.loads((await ws.receive()).data)
            if frame.get("action") == "createMessage":
                return frame["message"]


async def test_the_order_status_conversation_from_the_agents_playground() -> None:
    async with serve_bot(make_settings()) as bot_url:
        playground = AgentsPlayground(bot_url)
        playground.start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{playground.endpoint}/_internal/v1/config") as response:
                    config = (await response.json())["config"]
                chat, user = config["personalChat"]["id"], config["currentUser"]["id"]
                stream = playground.endpoint.replace("http", "ws", 1)
                async with http.ws_connect(
                    f"{stream}/_ws_conversation/v1/conversations/stream"
                ) as ws:

                    async def say(text: str) -> None:
                        message = {"type": "text", "text": text, "textFormat": "plain",
                                   "from": {"id": user}}  # fmt: skip
                        url = (
                            f"{playground.endpoint}/_conversation/v1/conversations/{chat}/messages"
                        )
                        async with http.post(url, json=message) as response:
                            assert response.status == 200

                    await say("where is my order?")
                    asked = await next_message(ws)
                    assert asked["text"] == "Can you provide your order number?"

                    await say("123456")
                    answer = await next_message(ws)
                    assert answer["text"].startswith("Your order 123456 is out for delivery")
                    card_message = answer if answer["attachments"] else await next_message(ws)
        finally:
            playground.stop()
    [card] = card_message["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = next(part for part in card["content"]["body"] if part["type"] == "FactSet")["facts"]
    assert {"title": "Status", "value": "out for delivery"} in facts
