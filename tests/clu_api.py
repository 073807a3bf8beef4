"""A stand-in for Azure AI Language CLU's conversation analysis (API 2023-04-01):

    POST /language/:analyze-conversations?api-version=2023-04-01
    header Ocp-Apim-Subscription-Key
    body   {"kind": "Conversation", "analysisInput": {"conversationItem": {...}},
            "parameters": {"projectName", "deploymentName", "stringIndexType"}}
    200    {"kind": "ConversationResult", "result": {"query", "prediction": {
            "topIntent", "intents": [{"category", "confidenceScore"}], "entities"}}}

It answers `top` with 0.93, "none" with 0.04 and "orderStatus" with 0.03 (not in order, as
CLU does not promise one). Failures on demand, for every request ("failure") or for the next
ones in turn ("failures"): "hang" (past any deadline), "500", "no intents" (a prediction
with none), "not a prediction" (a 200 of another shape).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.conftest import serve

KEY = "clu-test-key"


class CluServer:
    def __init__(
        self, top: str = "bookAppointment", failure: str | None = None,
        failures: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.top = top
        self.failure = failure
        self.failures = list(failures or [])
        self.requests: list[dict[str, Any]] = []

    async def analyze(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"query": dict(request.query), "key": request.headers.get(
            "Ocp-Apim-Subscription-Key"), "body": body})  # fmt: skip
        failure = self.failures.pop(0) if self.failures else self.failure
        if failure == "hang":
            await asyncio.sleep(3600)
        if failure == "500":
            return web.json_response({"error": {"code": "InternalServerError"}}, status=500)
        if failure == "not a prediction":
            return web.json_response({"kind": "ConversationResult", "result": {"query": "?"}})
        text = body["analysisInput"]["conversationItem"]["text"]
        intents = [
            {"category": "none", "confidenceScore": 0.04},
            {"category": self.top, "confidenceScore": 0.93},
            {"category": "orderStatus", "confidenceScore": 0.03},
        ]
        return web.json_response({
            "kind": "ConversationResult",
            "result": {"query": text, "prediction": {
                "projectKind": "Conversation", "topIntent": self.top,
                "intents": [] if failure == "no intents" else intents, "entities": [],
            }},
        })  # fmt: skip


@asynccontextmanager
async def clu_server(server: CluServer) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/language/:analyze-conversations", server.analyze)
    async with serve(app) as url:
        yield url
