"""Checking the bearer token on each incoming activity, without ever blocking the event loop.

botframework-connector fetches its signing keys with a blocking `requests.get` on the
event loop, with no timeout, and fetches again for every token naming an unknown key:
a stream of forged tokens froze every customer's turn. Here the same checks are made
(issuer, audience, the key's endorsement of the channel, the service URL claim, RS256
signature within 5 minutes of clock skew), with the keys fetched asynchronously:

- each metadata document and key set is fetched with a deadline, at most one fetch
  at a time per source, and cached for a day (botbuilder's refresh interval);
- a token naming a key not in the cache fetches again at most once an hour, as
  botbuilder does; a failed fetch is remembered for FAILURE_BACKOFF seconds, during
  which tokens needing it are refused at once;
- at most MAX_CONCURRENT_CHECKS tokens are checked at once (the signature check is
  CPU work; more waiting than that is refused).

Every token that does not verify raises PermissionError (the host answers 401).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from botbuilder.schema import Activity
from botframework.connector.auth import ClaimsIdentity
from jwt.algorithms import RSAAlgorithm

from services.resilient_http import read_at_most

log = logging.getLogger(__name__)

CHANNEL_ISSUER = "https://api.botframework.com"
# Tokens the Bot Framework Emulator gets from Entra ID, as botbuilder's EmulatorValidation lists.
EMULATOR_ISSUERS = frozenset(
    {
        "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
        "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0",
        "https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/",
        "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0",
    }
)
MAX_TOKEN_CHARS = 16 * 1024
CLOCK_SKEW = 5 * 60
REFRESH_EVERY = 24 * 3600.0  # botbuilder's interval
REFRESH_UNKNOWN_KEY_EVERY = 3600.0  # botbuilder's, for a key id not in the cache
FAILURE_BACKOFF = 30.0
# The OpenID metadata and key set are a few kilobytes; a larger answer is refused.
MAX_KEYS_BYTES = 1024 * 1024
FETCH_TIMEOUT = 5.0
MAX_CONCURRENT_CHECKS = 32
QUEUE_WAIT = 1.0


@dataclass(frozen=True)
class SigningKey:
    public_key: Any
    endorsements: frozenset[str]


@dataclass
class _KeyCache:
    keys: dict[str, SigningKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    failed_at: float = float("-inf")
    fetching: asyncio.Task[None] | None = None


class SigningKeys:
    """The signing keys one OpenID metadata document points to, fetched without blocking."""

    def __init__(
        self,
        metadata_url: str,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metadata_url = metadata_url
        self._session = session
        self._clock = clock
        self._cache = _KeyCache()

    async def get(self, key_id: str) -> SigningKey:
        cache = self._cache
        now = self._clock()
        stale = now - cache.fetched_at > REFRESH_EVERY
        unknown = key_id not in cache.keys and now - cache.fetched_at > REFRESH_UNKNOWN_KEY_EVERY
        if stale or unknown:
            await self._refresh()
        key = cache.keys.get(key_id)
        if key is None:
            raise PermissionError("the token's signing key is not one of the channel's")
        return key

    async def _refresh(self) -> None:
        cache = self._cache
        if self._clock() - cache.failed_at < FAILURE_BACKOFF:
            if cache.keys:
                return  # keep using the keys we have
            raise PermissionError("the channel's signing keys are unavailable right now")
        if cache.fetching is None or cache.fetching.done():
            cache.fetching = asyncio.create_task(self._fetch())
        # Shielded: one caller giving up must not cancel the fetch the others wait for.
        await asyncio.shield(cache.fetching)
        if not cache.keys:
            raise PermissionError("the channel's signing keys are unavailable right now")

    async def _fetch(self) -> None:
        cache = self._cache
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                metadata = await self._json(self._metadata_url)
                keys = await self._json(str(metadata["jwks_uri"]))
            cache.keys = {
                str(jwk["kid"]): SigningKey(
                    RSAAlgorithm.from_jwk(json.dumps(jwk)),
                    frozenset(jwk.get("endorsements") or ()),
                )
                for jwk in keys["keys"]
                if isinstance(jwk, dict) and "kid" in jwk
            }
            cache.fetched_at = self._clock()
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as error:
            cache.failed_at = self._clock()
            log.warning("signing keys from %s unavailable: %s", self._metadata_url,
                        type(error).__name__)  # fmt: skip

    async def _json(self, url: str) -> Any:
        async with self._session().get(url, allow_redirects=False) as response:
            response.raise_for_status()
            body = await read_at_most(response.content, MAX_KEYS_BYTES)
            if len(body) > MAX_KEYS_BYTES:
                raise ValueError(f"{url} answered more than {MAX_KEYS_BYTES} bytes")
            return json.loads(body)


class ChannelTokenValidator:
    """botbuilder's channel and Emulator token checks, asynchronous and bounded."""

    def __init__(
        self,
        app_id: str,
        tenant_id: str,
        channel_metadata_url: str,
        emulator_metadata_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = app_id
        self._session: aiohttp.ClientSession | None = None
        self._channel_keys = SigningKeys(channel_metadata_url, self._http, clock)
        self._emulator_keys = SigningKeys(emulator_metadata_url, self._http, clock)
        self._emulator_issuers = set(EMULATOR_ISSUERS)
        if tenant_id:  # a single-tenant bot's own tenant
            self._emulator_issuers |= {
                f"https://sts.windows.net/{tenant_id}/",
                f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            }
        self._checks = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=4),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise PermissionError("the token validator is not open")
        return self._session

    async def validate(self, auth_header: str, activity: Activity) -> ClaimsIdentity:
        scheme, _, token = (auth_header or "").partition(" ")
        if scheme != "Bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            raise PermissionError("no bearer token")
        try:
            async with asyncio.timeout(QUEUE_WAIT):
                await self._checks.acquire()
        except TimeoutError:
            raise PermissionError("too many tokens being checked at once") from None
        try:
            return await self._validate(token.strip(), activity)
        finally:
            self._checks.release()

    async def _validate(self, token: str, activity: Activity) -> ClaimsIdentity:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise PermissionError("the token is not a JWT") from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise PermissionError("the token is not signed the way channel tokens are")
        issuer = unverified.get("iss")
        if issuer == CHANNEL_ISSUER:
            key = await self._channel_keys.get(header["kid"])
            if activity.channel_id not in key.endorsements:
                raise PermissionError("the signing key is not endorsed for this channel")
        elif issuer in self._emulator_issuers:
            key = await self._emulator_keys.get(header["kid"])
        else:
            raise PermissionError("the token's issuer is not a channel's")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                leeway=CLOCK_SKEW,
                options={"verify_aud": False, "require": ["exp"]},
            )
        except jwt.PyJWTError:
            raise PermissionError("the token's signature or lifetime does not verify") from None
        if issuer == CHANNEL_ISSUER:
            if claims.get("aud") != self._app_id:
                raise PermissionError("the token is for another bot")
            if claims.get("serviceurl") != activity.service_url:
                raise PermissionError("the token is for another service URL")
        else:
            # Entra ID v1 tokens name the client in appid, v2 in azp.
            client = claims.get("appid") if claims.get("ver") == "1.0" else claims.get("azp")
            if client != self._app_id:
                raise PermissionError("the token is for another bot")
            # botbuilder reads the bot's app id from `aud` first; an Emulator token's audience
            # is the Bot Framework API, so name the bot that was just verified.
            claims = {**claims, "aud": self._app_id}
        return ClaimsIdentity(claims, True)
