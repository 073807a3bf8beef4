"""Bearer tokens with auth on: forged ones are refused at once, and never stall the bot."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bots.channel_tokens import CHANNEL_ISSUER
from tests.conftest import make_settings, serve, serve_bot
from tools.local_channel import LocalChannel

APP_ID = "11111111-2222-4333-8444-555555555555"
CHANNEL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeyServer:
    """Stands in for login.botframework.com: OpenID metadata and the channel's keys."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.requests = 0
        self.url = ""

    async def metadata(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang:
            await asyncio.sleep(3600)
        return web.json_response({"jwks_uri": f"{self.url}/keys"})

    async def keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(CHANNEL_KEY.public_key()))
        jwk.update(kid="channel-key", endorsements=["webchat", "msteams"])
        return web.json_response({"keys": [jwk]})


@asynccontextmanager
async def key_server(hang: bool = False) -> AsyncIterator[KeyServer]:
    server = KeyServer(hang)
    app = web.Application()
    app.router.add_get("/metadata", server.metadata)
    app.router.add_get("/keys", server.keys)
    async with serve(app) as url:
        server.url = url
        yield server


def auth_settings(keys: KeyServer, **values: object):  # type: ignore[no-untyped-def]
    return make_settings(
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="app-password",
        CHANNEL_OPENID_METADATA_URL=f"{keys.url}/metadata",
        EMULATOR_OPENID_METADATA_URL=f"{keys.url}/metadata",
        **values,
    )


def token(service_url: str, *, key=CHANNEL_KEY, kid="channel-key", **claims: object) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    payload = {"iss": CHANNEL_ISSUER, "aud": APP_ID, "serviceurl": service_url,
               "nbf": now - 10, "exp": now + 3600, **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def forged_headers(service_url: str) -> list[str]:
    """What an attacker who read the README might send."""
    claims = {"iss": CHANNEL_ISSUER, "aud": APP_ID, "serviceurl": service_url}
    return [
        "Bearer garbage",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 8000,
        f"Bearer {token(service_url, key=ATTACKER_KEY)}",  # the channel's key id, own key
        f"Bearer {token(service_url, key=ATTACKER_KEY, kid=uuid.uuid4().hex)}",  # unknown key
        f"Bearer {token(service_url, aud='another-bot')}",
        f"Bearer {token('https://attacker.example.net')}",
        f"Bearer {token(service_url, exp=int(time.time()) - 3600)}",
        f"Bearer {token(service_url, iss='https://attacker.example.net')}",
        "Bearer " + jwt.encode(claims, "s" * 32, "HS256", headers={"kid": "channel-key"}),
        "Bearer " + jwt.encode(claims, None, "none"),
    ]


async def post(url: str, activity: dict, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=activity, headers=headers) as r:
        return r.status


@pytest.mark.parametrize("keys_answer", [True, False], ids=["keys served", "key host hangs"])
async def test_a_hundred_forged_tokens_are_401_and_the_bot_keeps_serving(
    keys_answer: bool,
) -> None:
    async with (
        key_server(hang=not keys_answer) as keys,
        serve_bot(auth_settings(keys)) as bot_url,
        LocalChannel(bot_url) as channel,
    ):
        activity = channel.conversation().activity(type="message", text="where is my order?")
        forged = forged_headers(channel.service_url)
        headers = [forged[n % len(forged)] for n in range(100)]
        finished: list[float] = []

        async def attack(header: str) -> int:
            status = await post(bot_url, activity, header)
            finished.append(time.monotonic())
            return status

        attacks = asyncio.gather(*(attack(header) for header in headers))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        health = bot_url.replace("/api/messages", "/healthz")
        async with aiohttp.ClientSession() as http, http.get(health) as response:
            assert response.status == 200
        healthy_after = time.monotonic() - started
        statuses = await attacks
        assert statuses == [401] * 100
        assert healthy_after < 1.0
        if not keys_answer:
            # The event loop was free while the key host hung: /healthz answered before the
            # last forged token was refused; the hanging host was asked once, not 100 times.
            assert started + healthy_after < max(finished)
            assert keys.requests == 1
            assert [await post(bot_url, activity, h) for h in forged] == [401] * len(forged)
            assert keys.requests == 1


async def test_a_channel_token_is_accepted_only_for_its_bot_channel_and_service_url() -> None:
    async with (
        key_server() as keys,
        serve_bot(auth_settings(keys)) as bot_url,
        LocalChannel(bot_url) as channel,
    ):
        # A typing activity needs no reply (a reply would need a token from Entra ID).
        typing = channel.conversation().activity(type="typing")
        good = f"Bearer {token(channel.service_url)}"
        assert await post(bot_url, typing, good) == 201
        assert await post(bot_url, typing, None) == 401
        # The key is endorsed for webchat and msteams only.
        assert await post(bot_url, {**typing, "channelId": "facebook"}, good) == 401
        moved = {**typing, "serviceUrl": "https://attacker.example.net"}
        assert await post(bot_url, moved, good) == 401
        # The Emulator signs in with the bot's own app id and password (Entra ID tokens).
        emulator = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
        own = token(channel.service_url, iss=emulator, ver="1.0", appid=APP_ID, aud="x")
        other = token(channel.service_url, iss=emulator, ver="1.0", appid="another-app")
        assert await post(bot_url, typing, f"Bearer {own}") == 201
        assert await post(bot_url, typing, f"Bearer {other}") == 401


async def test_with_auth_off_a_token_is_not_even_looked_at() -> None:
    async with (
        key_server() as keys,
        serve_bot(make_settings(CHANNEL_OPENID_METADATA_URL=f"{keys.url}/metadata")) as bot_url,
        LocalChannel(bot_url) as channel,
    ):
        conversation = channel.conversation()
        activity = conversation.activity(type="message", text="where is my order?")
        assert await post(bot_url, activity, f"Bearer {token(channel.service_url)}") == 201
        assert channel.received(conversation.id)
    assert keys.requests == 0
