"""The web chat embed: `POST /api/directline/token` and the `GET /chat` page.

The Direct Line secret is exchanged on the server for a token bound to a `dl_`
user id; it never appears in a response, a page or a log. A company's site may
pass a customer id it signed with SITE_SIGNING_KEY; the user id then carries it,
signed by the bot (customers/accounts.py), so the bot knows the customer.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from aiohttp import web
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from customers.accounts import SERVER_ISSUED_PREFIX, sign_customer_id, site_signed_customer_id
from services.direct_line import PUBLIC_ENDPOINT, DirectLineTokens, DirectLineUnavailable

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("page.html")
TOKEN_ROUTE = "/api/directline/token"
BUNDLE_ROUTE = "/chat/webchat.js"
NOT_SET_UP = (
    "Web chat is not set up on this bot: set DIRECT_LINE_SECRET, "
    "or run make webchat to try it locally."
)
# What a site may sign as a customer id: it becomes part of a key and a Direct Line user id.
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class WebChatEmbed:
    def __init__(
        self,
        tokens: DirectLineTokens | None,
        *,
        direct_line_endpoint: str,
        allowed_origins: frozenset[str],
        site_signing_key: str | None,
        customer_id_signing_key: str | None,
        bundle_url: str,
        bundle_file: Path | None = None,
        rate_limit: str = "10/minute",
        trusted_proxy_hops: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._endpoint = direct_line_endpoint.rstrip("/")
        self._allowed_origins = {origin.rstrip("/") for origin in allowed_origins}
        self._site_key = site_signing_key
        self._customer_key = customer_id_signing_key
        self._bundle_url = bundle_url
        self._bundle_file = bundle_file
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rate = parse(rate_limit)
        self._clock = clock
        self._trusted_proxy_hops = trusted_proxy_hops

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(TOKEN_ROUTE, self.token)
        app.router.add_route("OPTIONS", TOKEN_ROUTE, self.preflight)
        app.router.add_get("/chat", self.page)
        if self._bundle_file is not None:
            app.router.add_get(BUNDLE_ROUTE, self.bundle)

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS: a company's own site (ALLOWED_ORIGINS) may call the token endpoint."""
        if not self._origin_allowed(request):
            return _error(403, "this origin may not embed the chat (ALLOWED_ORIGINS)")
        return web.Response(status=204, headers=self._cors(request))

    async def token(self, request: web.Request) -> web.Response:
        response = await self._token(request)
        response.headers.update(self._cors(request))
        return response

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or origin.rstrip("/") not in self._allowed_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Vary": "Origin",
        }

    async def _token(self, request: web.Request) -> web.Response:
        if not self._origin_allowed(request):
            return _error(403, "this origin may not embed the chat (ALLOWED_ORIGINS)")
        if not self._limiter.hit(self._rate, client_address(request, self._trusted_proxy_hops)):
            return _error(
                429, "too many token requests; try again in a minute", **{"Retry-After": "60"}
            )
        if self._tokens is None:
            return _error(503, "web chat is not set up on this bot (DIRECT_LINE_SECRET)")
        user_id = await self._user_id(request)
        if user_id == "":
            return _error(
                400,
                "customerId must be 1 to 64 letters, digits or . _ @ : - (a letter or digit first)",
            )
        if user_id is None:
            return _error(403, "the signed customer id is not valid")
        try:
            issued = await self._tokens.generate(user_id)
        except DirectLineUnavailable:
            return _error(502, "web chat is unavailable right now")
        return web.json_response(
            {
                "token": issued.token,
                "conversationId": issued.conversation_id,
                "userId": user_id,
                "expiresIn": issued.expires_in,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def page(self, request: web.Request) -> web.Response:
        bundle_url = BUNDLE_ROUTE if self._bundle_file is not None else self._bundle_url
        config = {
            "enabled": self._tokens is not None,
            "tokenUrl": TOKEN_ROUTE,
            "bundleUrl": bundle_url,
            "domain": f"{self._endpoint}/v3/directline",
            # The Azure Direct Line streams over WebSocket; a local one may only poll.
            "webSocket": self._endpoint == PUBLIC_ENDPOINT,
        }
        if self._tokens is None:
            # Said by the server, so it shows even without the Web Chat script.
            problem, hidden, script = NOT_SET_UP, "", ""
        else:
            problem, hidden = "", "hidden"
            script = f'<script src="{_attribute(bundle_url)}"></script>'
        html = (
            PAGE.read_text(encoding="utf-8")
            .replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))
            .replace("__PROBLEM_HIDDEN__", hidden)
            .replace("__PROBLEM__", _attribute(problem))
            .replace("__BUNDLE_SCRIPT__", script)
        )
        return web.Response(text=html, content_type="text/html")

    async def bundle(self, request: web.Request) -> web.StreamResponse:
        """The Web Chat bundle from a local file (WEBCHAT_BUNDLE_FILE): offline trials."""
        assert self._bundle_file is not None
        return web.FileResponse(self._bundle_file, headers={"Cache-Control": "max-age=3600"})

    def _origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: a server of the company's, rate-limited like others
        if urlparse(origin).netloc == request.host:
            return True  # the bot's own /chat page
        return origin.rstrip("/") in self._allowed_origins

    async def _user_id(self, request: web.Request) -> str | None:
        """An anonymous dl_ id, or one carrying the site's signed-in customer; None: forged;
        "": not a customer id at all."""
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict) or "customerId" not in body:
            return f"{SERVER_ISSUED_PREFIX}{uuid.uuid4().hex}"
        if not isinstance(body["customerId"], str) or not CUSTOMER_ID.fullmatch(body["customerId"]):
            return ""
        try:
            customer_id = site_signed_customer_id(
                str(body["customerId"]),
                int(body.get("expires", 0)),
                str(body.get("signature", "")),
                self._site_key,
                self._clock(),
            )
        except (TypeError, ValueError):
            customer_id = None
        if customer_id is None or not self._customer_key:
            log.warning("token request with a signed customer id that does not verify")
            return None
        return sign_customer_id(customer_id, self._customer_key)


def client_address(request: web.Request, trusted_proxy_hops: int) -> str:
    """The address the outermost trusted proxy saw (or the peer's, trusting none).

    Each proxy appends the address it received from, so only the last `trusted_proxy_hops`
    entries of X-Forwarded-For were written by someone trusted; whatever comes before
    was written by the client and proves nothing."""
    if trusted_proxy_hops == 0:
        return request.remote or "unknown"
    forwarded = [
        entry.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for entry in header.split(",")
        if entry.strip()
    ]
    if len(forwarded) < trusted_proxy_hops:
        return request.remote or "unknown"  # not through every proxy: the peer itself
    address = forwarded[-trusted_proxy_hops]
    # App Service writes "ip:port"; IPv6 may come bracketed.
    if address.startswith("["):
        return address[1:].split("]")[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
