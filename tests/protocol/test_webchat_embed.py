"""The web chat embed: the token endpoint against a stand-in for Direct Line's tokens/generate."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from customers.accounts import ChannelAccount, signed_customer_id
from tests.conftest import make_settings, serve, serve_bot_parts

SECRET = "dl-secret-0123456789-abcdefghij"


@asynccontextmanager
async def direct_line(status: int = 200) -> AsyncIterator[tuple[str, list[dict]]]:
    """Answers POST /v3/directline/tokens/generate as Azure does, for the right secret only."""
    seen: list[dict] = []

    async def generate(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return web.json_response({"error": {"code": "BadArgument"}}, status=403)
        body = await request.json()
        seen.append(body)
        if status != 200:
            return web.Response(status=status)
        return web.json_response(
            {"conversationId": "conv-1", "token": "short-lived-token", "expires_in": 3600}
        )

    app = web.Application()
    app.router.add_post("/v3/directline/tokens/generate", generate)
    async with serve(app) as url:
        yield url, seen


@asynccontextmanager
async def embed(
    direct_line_url: str, **values: object
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    settings = make_settings(
        DIRECT_LINE_SECRET=SECRET,
        DIRECT_LINE_ENDPOINT=direct_line_url,
        ALLOWED_ORIGINS="https://shop.example.com",
        CUSTOMER_ID_SIGNING_KEY="bot-key",
        SITE_SIGNING_KEY="site-key",
        **values,
    )
    async with serve_bot_parts(settings) as (bot_url, _), aiohttp.ClientSession() as http:
        yield bot_url.removesuffix("/api/messages"), http


async def post_token(
    http: aiohttp.ClientSession, base: str, origin: str | None = None, body: dict | None = None
) -> tuple[int, str]:
    headers = {"Origin": origin} if origin else {}
    async with http.post(f"{base}/api/directline/token", headers=headers, json=body) as response:
        return response.status, await response.text()


def site_signature(customer_id: str, expires: int, key: str = "site-key") -> str:
    return hmac.new(key.encode(), f"{customer_id}.{expires}".encode(), hashlib.sha256).hexdigest()


async def test_a_token_for_an_anonymous_visitor_and_the_secret_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with direct_line() as (dl_url, seen), embed(dl_url) as (base, http):
        status, raw = await post_token(http, base, "https://shop.example.com")
        assert status == 200
        body = json.loads(raw)
        assert body["token"] == "short-lived-token" and body["expiresIn"] == 3600
        assert body["userId"].startswith("dl_") and seen[0]["user"]["id"] == body["userId"]
        async with http.get(f"{base}/chat") as response:
            page = await response.text()
    assert SECRET not in raw and SECRET not in page and SECRET not in caplog.text
    assert "/api/directline/token" in page and "webchat.js" in page


async def test_an_allowed_site_may_call_across_origins() -> None:
    async with direct_line() as (dl_url, _), embed(dl_url) as (base, http):
        headers = {"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}
        async with http.options(f"{base}/api/directline/token", headers=headers) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
        async with http.post(
            f"{base}/api/directline/token", headers={"Origin": "https://shop.example.com"}
        ) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.net", "https://shop.example.com.evil.net", "http://shop.example.com",
     "null"],
)  # fmt: skip
async def test_a_preflight_from_a_disallowed_origin_is_refused(origin: str) -> None:
    async with direct_line() as (dl_url, seen), embed(dl_url) as (base, http):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        async with http.options(f"{base}/api/directline/token", headers=headers) as response:
            status, body = response.status, await response.json()
            allowed = {name for name in response.headers if name.startswith("Access-Control")}
        async with http.post(
            f"{base}/api/directline/token", headers={"Origin": origin}
        ) as response:
            posted = response.status
            allowed |= {name for name in response.headers if name.startswith("Access-Control")}
    # The browser is told nothing that would let the site's script call across origins.
    assert status == 403 and "ALLOWED_ORIGINS" in body["error"]
    assert posted == 403
    assert allowed == set()
    assert seen == []


async def test_a_disallowed_origin_is_refused() -> None:
    async with direct_line() as (dl_url, seen), embed(dl_url) as (base, http):
        status, raw = await post_token(http, base, "https://evil.example.net")
    assert status == 403 and "error" in json.loads(raw)
    assert seen == []


async def test_a_burst_of_token_requests_is_limited() -> None:
    async with (
        direct_line() as (dl_url, _),
        embed(dl_url, TOKEN_RATE_LIMIT="3/minute") as (
            base,
            http,
        ),
    ):
        statuses = [(await post_token(http, base))[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


async def test_a_signed_in_customer_gets_a_user_id_the_bot_trusts() -> None:
    expires = int(time.time()) + 300
    async with direct_line() as (dl_url, _), embed(dl_url) as (base, http):
        good = {"customerId": "crm-1001", "expires": expires,
                "signature": site_signature("crm-1001", expires)}  # fmt: skip
        user_id = json.loads((await post_token(http, base, body=good))[1])["userId"]
        assert signed_customer_id(ChannelAccount("webchat", user_id), "bot-key") == "crm-1001"

        tampered = {**good, "customerId": "crm-1002"}
        expired = {"customerId": "crm-1001", "expires": expires - 600,
                   "signature": site_signature("crm-1001", expires - 600)}  # fmt: skip
        wrong_key = {**good, "signature": site_signature("crm-1001", expires, "guess")}
        for forged in (tampered, expired, wrong_key):
            assert (await post_token(http, base, body=forged))[0] == 403


async def test_direct_line_down_is_a_502_not_a_crash() -> None:
    async with direct_line(status=503) as (dl_url, seen), embed(dl_url) as (base, http):
        status, raw = await post_token(http, base)
    assert status == 502 and "unavailable" in json.loads(raw)["error"]
    assert len(seen) == 2  # one retry


async def test_without_a_secret_the_endpoint_says_so() -> None:
    async with serve_bot_parts(make_settings()) as (bot_url, _), aiohttp.ClientSession() as http:
        status, raw = await post_token(http, bot_url.removesuffix("/api/messages"))
    assert status == 503 and "DIRECT_LINE_SECRET" in json.loads(raw)["error"]


async def test_a_spoofed_forwarded_address_does_not_escape_the_rate_limit() -> None:
    async with (
        direct_line() as (dl_url, _),
        embed(dl_url, TOKEN_RATE_LIMIT="3/minute") as (
            base,
            http,
        ),
    ):
        statuses = []
        for n in range(6):
            headers = {"X-Forwarded-For": f"198.51.100.{n}"}
            async with http.post(f"{base}/api/directline/token", headers=headers) as response:
                statuses.append(response.status)
    assert statuses == [200, 200, 200, 429, 429, 429]


async def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client() -> None:
    async with (
        direct_line() as (dl_url, _),
        embed(dl_url, TOKEN_RATE_LIMIT="2/minute", TRUSTED_PROXY_HOPS=1) as (base, http),
    ):

        async def token(forwarded: str) -> int:
            headers = {"X-Forwarded-For": forwarded}
            async with http.post(f"{base}/api/directline/token", headers=headers) as response:
                return response.status

        # The client writes whatever it likes first; the proxy appends what it saw.
        first = [await token(f"10.0.0.{n}, 203.0.113.7:50112") for n in range(3)]
        other_client = await token("10.0.0.1, 203.0.113.8:50113")
    assert first == [200, 200, 429]
    assert other_client == 200


@pytest.mark.parametrize(
    "customer_id", ["", "a" * 65, "crm 1001", "../admin", "crm-1001\n", 1001, ["crm-1001"]]
)
async def test_a_customer_id_that_is_not_one_is_a_400(customer_id: object) -> None:
    expires = int(time.time()) + 300
    async with direct_line() as (dl_url, seen), embed(dl_url) as (base, http):
        body = {"customerId": customer_id, "expires": expires,
                "signature": site_signature(str(customer_id), expires)}  # fmt: skip
        status, raw = await post_token(http, base, body=body)
    assert status == 400 and "customerId" in json.loads(raw)["error"]
    assert seen == []
