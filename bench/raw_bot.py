"""The order-status job's I/O written directly on aiohttp: the bench's reference, the limit.

No framework: each activity POSTed is parsed, the conversation's state (a JSON document
in a dict, as the memory store keeps it) is read, the order API is asked for the number,
the reply is POSTed to the channel's connector, the state is written back, and the bot
answers 200. Every turn does the I/O a turn of the bot does, and nothing else; the bot's
turns per second over this one's is its share of the limit. Run by `make bench` only;
settings from the environment (PORT, ORDER_API_URL).
"""

from __future__ import annotations

import json
import os
import re

import aiohttp
from aiohttp import web

NUMBER = re.compile(r"\d{6,}")


def main() -> None:
    port = int(os.environ["PORT"])
    order_api = os.environ["ORDER_API_URL"].rstrip("/")
    documents: dict[str, str] = {}
    sessions: list[aiohttp.ClientSession] = []

    async def reply(activity: dict, text: str) -> None:
        conversation, reply_to = activity["conversation"]["id"], activity["id"]
        url = f"{activity['serviceUrl']}/v3/conversations/{conversation}/activities/{reply_to}"
        body = {
            "type": "message", "text": text, "replyToId": activity["id"],
            "conversation": activity["conversation"], "from": activity["recipient"],
            "recipient": activity["from"],
        }  # fmt: skip
        async with sessions[0].post(url, json=body) as response:
            await response.read()

    async def messages(request: web.Request) -> web.Response:
        activity = await request.json()
        key = f"{activity['channelId']}/{activity['conversation']['id']}"
        state = json.loads(documents.get(key, "{}"))
        if activity["type"] == "conversationUpdate":
            await reply(activity, "Hi, I can tell you where your order is.")
        elif state.get("asked") and (number := NUMBER.search(activity.get("text") or "")):
            async with sessions[0].get(f"{order_api}/orders/{number[0]}") as response:
                order = await response.json()
            await reply(activity, f"Your order {number[0]} is {order['status']}.")
            state["asked"] = False
        else:
            await reply(activity, "Can you provide your order number?")
            state["asked"] = True
        documents[key] = json.dumps(state)
        return web.Response(status=200)

    async def http_session(_: web.Application):
        sessions.append(aiohttp.ClientSession())
        yield
        await sessions[0].close()

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(http_session)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
