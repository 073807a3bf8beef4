"""Peer ring: a hand-off between the real Web Chat (customer, in Chromium over a local
Direct Line) and the Microsoft 365 Agents Playground (agent, in a team's channel)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tests.conftest import make_settings, serve_bot
from tests.peers.test_webchat_browser import (
    ARTIFACTS,
    BUBBLE,
    chromium,
    loopback_only,
    say,
    webchat_bundle,
)
from tools.local_peers import AgentsPlayground, DirectLineServer, free_port

# The Playground's own team and channel (its default configuration).
TEAM, CHANNEL = "team-id", "team-id"


class PlaygroundAgent:
    """An agent using the Playground's Teams client, through its own HTTP and web socket."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: str, config: dict) -> None:
        self._http = http
        self._endpoint = endpoint
        self.bot_id = config["bot"]["id"]
        # The Playground's user: it sends every typed message as this user.
        agent = config["currentUser"]
        self.id, self.name = agent["id"], agent["name"]
        self.frames: list[dict[str, Any]] = []

    async def write(self, conversation: str, text: str) -> None:
        """A message that @mentions the bot (in a channel Teams sends the bot only those)."""
        mention = "<at>Customer Service</at>"
        message = {"type": "text", "text": f"{mention} {text}", "textFormat": "plain",
                   "from": {"id": self.id},
                   "mentions": [{"mentioned": {"id": self.bot_id}, "text": mention}]}  # fmt: skip
        url = f"{self._endpoint}/_conversation/v1/conversations/{conversation}/messages"
        async with self._http.post(url, json=message) as response:
            assert response.status == 200, await response.text()

    async def click(self, thread: str, card_id: str, value: dict) -> None:
        submit = {"conversation": {"id": thread}, "from": {"id": self.id},
                  "replyToId": card_id, "value": value}  # fmt: skip
        async with self._http.post(f"{self._endpoint}/_conversation/v1/submit", json=submit) as r:
            assert r.status == 200, await r.text()

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            self.frames.append(json.loads(frame.data))

    async def seen(self, condition) -> dict[str, Any]:
        """The first frame that meets `condition`, waited for up to 20 s."""
        async with asyncio.timeout(20):
            while True:
                for frame in self.frames:
                    if condition(frame):
                        return frame
                await asyncio.sleep(0.1)


@asynccontextmanager
async def agents_playground(bot_url: str) -> AsyncIterator[PlaygroundAgent]:
    playground = AgentsPlayground(bot_url)
    playground.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{playground.endpoint}/_internal/v1/config") as response:
                config = (await response.json())["config"]
            agent = PlaygroundAgent(http, playground.endpoint, config)
            stream = playground.endpoint.replace("http", "ws", 1)
            async with http.ws_connect(f"{stream}/_ws_conversation/v1/conversations/stream") as ws:
                listening = asyncio.create_task(agent.listen(ws))
                try:
                    yield agent
                finally:
                    listening.cancel()
    finally:
        playground.stop()


def _text(frame: dict) -> str:
    return frame.get("message", {}).get("text") or ""


async def test_a_web_chat_customer_and_a_teams_agent_talk_and_the_bot_takes_back() -> None:
    direct_line_port = free_port()
    async with webchat_bundle() as bundle_url:
        settings = make_settings(
            DIRECT_LINE_SECRET="local-secret",
            DIRECT_LINE_ENDPOINT=f"http://127.0.0.1:{direct_line_port}",
            WEBCHAT_BUNDLE_URL=bundle_url,
            HANDOFF_TEAM_ID=TEAM,
        )
        async with serve_bot(settings) as bot_url, agents_playground(bot_url) as agent:
            await agent.write(CHANNEL, "/desk here")
            await agent.seen(lambda f: "now receives customers" in _text(f))
            direct_line = DirectLineServer(direct_line_port, bot_url)
            direct_line.start()
            try:
                async with chromium() as browser:
                    page = await browser.new_page()
                    await page.route("**/*", loopback_only)
                    await page.goto(bot_url.replace("/api/messages", "/chat"))
                    await page.locator(
                        BUBBLE, has_text="customer service assistant"
                    ).first.wait_for(timeout=20_000)
                    await say(page, "where is order 123456?", "out for delivery")
                    await say(page, "I'd like to talk to a person", "next in line")

                    # The card in the agents' channel, with what the bot knows.
                    posted = await agent.seen(
                        lambda f: f.get("actionConversationId") == CHANNEL
                        and f["action"] == "createMessage" and f["message"].get("attachments")
                    )  # fmt: skip
                    card_id = posted["message"]["messageId"]
                    card = posted["message"]["attachments"][0]["content"]
                    assert "123456: out for delivery" in json.dumps(card)
                    thread = f"{CHANNEL};messageid={card_id}"
                    await agent.click(thread, card_id, card["actions"][0]["data"])
                    await page.locator(BUBBLE, has_text=f"{agent.name} from our team has joined"
                                       ).first.wait_for(timeout=20_000)  # fmt: skip

                    await agent.write(thread, "Hi, I can see order 123456. How can I help?")
                    await page.locator(BUBBLE, has_text="How can I help?").first.wait_for(
                        timeout=20_000
                    )
                    await page.fill('[data-id="webchat-sendbox-input"]', "Can it come earlier?")
                    await page.press('[data-id="webchat-sendbox-input"]', "Enter")
                    relayed = await agent.seen(lambda f: "Can it come earlier?" in _text(f))
                    assert relayed["actionConversationId"] == thread

                    await agent.write(thread, "/end")
                    await page.locator(
                        BUBBLE, has_text="Did that solve your problem?"
                    ).first.wait_for(timeout=20_000)
                    await say(page, "yes", "How would you rate your chat")
                    await say(page, "5", "Thank you!")
                    ARTIFACTS.mkdir(exist_ok=True)
                    await page.screenshot(path=ARTIFACTS / "handoff-webchat.png", full_page=True)
                    bubbles = await page.locator(BUBBLE).all_inner_texts()
            finally:
                direct_line.stop()
    # While the agent had the case the bot said nothing of its own: the question about the
    # order went to the agent, not answered with the order's status again.
    statuses = [b for b in bubbles if "Your order 123456 is out for delivery" in b]
    assert len(statuses) == 1
    assert (ARTIFACTS / "handoff-webchat.png").stat().st_size > 10_000
