"""Peer ring: `make playground`, Teams-shaped traffic from the Microsoft 365 Agents Playground."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import printed_address, try_channel


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message the bot posted into the Playground's chat."""
    async with asyncio.timeout(20):
        while True:
            frame = json.loads((await ws.receive()).data)
            if frame.get("action") == "createMessage":
                return frame["message"]


async def test_make_playground_gives_the_order_status_conversation_as_teams_shows_it(
    tmp_path: Path,
) -> None:
    process = try_channel("playground", tmp_path)
    try:
        endpoint = (await asyncio.to_thread(printed_address, process, "/")).rstrip("/")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{endpoint}/") as response:
                assert response.status == 200  # the Playground's page, for a person to open
            async with http.get(f"{endpoint}/_internal/v1/config") as response:
                config = (await response.json())["config"]
            chat, user = config["personalChat"]["id"], config["currentUser"]["id"]
            stream = endpoint.replace("http", "ws", 1)
            async with http.ws_connect(f"{stream}/_ws_conversation/v1/conversations/stream") as ws:

                async def say(text: str) -> None:
                    message = {"type": "text", "text": text, "textFormat": "plain",
                               "from": {"id": user}}  # fmt: skip
                    url = f"{endpoint}/_conversation/v1/conversations/{chat}/messages"
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
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    [card] = card_message["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = next(part for part in card["content"]["body"] if part["type"] == "FactSet")["facts"]
    assert {"title": "Status", "value": "out for delivery"} in facts
