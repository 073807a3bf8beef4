"""An HTTPS proxy in front of the Cosmos DB API server that can answer 429, as Cosmos DB
does when a container runs out of request units (the local server never throttles)."""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp import web
from yarl import URL

from tools.local_peers import CLI

_CERTIFICATE = CLI.parents[1] / "cert.pem"
_KEY = CLI.parents[1] / "key.pem"
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class ThrottlingProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = f"127.0.0.1:{upstream_port}"
        self.endpoint = ""
        self.throttled = 0
        self._remaining = 0
        self._retry_after_ms = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def throttle(self, requests: int, retry_after_ms: int = 100) -> None:
        """Answer the next `requests` document requests with 429 and this retry-after."""
        self._remaining, self._retry_after_ms, self.throttled = requests, retry_after_ms, 0

    async def __aenter__(self) -> ThrottlingProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(_CERTIFICATE, _KEY)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.endpoint = f"https://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        if self._remaining and "/docs" in request.path:
            self._remaining -= 1
            self.throttled += 1
            return web.json_response(
                {"code": "TooManyRequests", "message": "Request rate is large."},
                status=429,
                headers={
                    "x-ms-retry-after-ms": str(self._retry_after_ms),
                    "x-ms-substatus": "3200",
                },
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        # The path exactly as the client sent it: it is part of what the client signed.
        async with self._session.request(
            request.method,
            URL(f"https://{self._upstream}{request.raw_path}", encoded=True),
            headers=headers, data=body, ssl=False,
        ) as upstream:  # fmt: skip
            answer = await upstream.read()
            reply_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            # The account's answer names its endpoints: keep the client talking to the proxy.
            answer = answer.replace(self._upstream.encode(), self.endpoint[8:].encode())
            return web.Response(status=upstream.status, body=answer, headers=reply_headers)
