"""The signing-key cache: fetched once, refreshed as botbuilder does, failures remembered."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from bots.channel_tokens import (
    FAILURE_BACKOFF,
    MAX_KEYS_BYTES,
    REFRESH_EVERY,
    REFRESH_UNKNOWN_KEY_EVERY,
    SigningKeys,
)
from tests.conftest import serve
from tests.protocol.test_channel_auth import KeyServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_keys_are_fetched_once_then_daily_and_unknown_ids_at_most_hourly() -> None:
    keys = KeyServer()
    app = web.Application()
    app.router.add_get("/metadata", keys.metadata)
    app.router.add_get("/keys", keys.keys)
    clock = Clock()
    async with serve(app) as url, aiohttp.ClientSession() as http:
        keys.url = url
        signing = SigningKeys(f"{url}/metadata", lambda: http, clock)
        assert (await signing.get("channel-key")).endorsements == {"webchat", "msteams"}
        for _ in range(10):
            await signing.get("channel-key")
            with pytest.raises(PermissionError):
                await signing.get("made-up")
        assert keys.requests == 1
        clock.now += REFRESH_UNKNOWN_KEY_EVERY + 1
        with pytest.raises(PermissionError):
            await signing.get("made-up")
        assert keys.requests == 2
        clock.now += REFRESH_EVERY + 1
        await signing.get("channel-key")
        assert keys.requests == 3

        keys.url = "http://127.0.0.1:9"  # the keys move somewhere that does not answer
        clock.now += REFRESH_EVERY + 1
        await signing.get("channel-key")  # the keys it has are kept
        assert keys.requests == 4
        await signing.get("channel-key")
        assert keys.requests == 4  # a failure is not retried at once
        clock.now += FAILURE_BACKOFF + 1
        await signing.get("channel-key")
        assert keys.requests == 5


async def test_keys_arriving_in_pieces_are_read_whole_and_too_many_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = KeyServer()
    padding = {"size": 0}

    async def keys_in_pieces(request: web.Request) -> web.StreamResponse:
        answer = json.loads((await keys.keys(request)).body)
        body = json.dumps({**answer, "padding": "x" * padding["size"]}).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        # The first pieces in 128 bytes a pause, the rest (padding) at once.
        for start in range(0, 1024, 128):
            await response.write(body[start : start + 128])
            await asyncio.sleep(0.01)
        await response.write(body[1024:])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/metadata", keys.metadata)
    app.router.add_get("/keys", keys_in_pieces)
    clock = Clock()
    async with serve(app) as url, aiohttp.ClientSession() as http:
        keys.url = url
        signing = SigningKeys(f"{url}/metadata", lambda: http, clock)
        assert (await signing.get("channel-key")).endorsements == {"webchat", "msteams"}

        padding["size"] = MAX_KEYS_BYTES
        fresh = SigningKeys(f"{url}/metadata", lambda: http, clock)
        with pytest.raises(PermissionError):
            await fresh.get("channel-key")
    assert f"signing keys from {url}/metadata unavailable: ValueError" in caplog.text
