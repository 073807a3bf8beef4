"""Direct Line tokens: the secret stays on the server, a browser gets a short-lived token.

POST {DIRECT_LINE_ENDPOINT}/v3/directline/tokens/generate with the secret, for a
user id the bot chose (`dl_...`): the token is bound to that id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

log = logging.getLogger(__name__)

PUBLIC_ENDPOINT = "https://directline.botframework.com"


@dataclass(frozen=True)
class DirectLineToken:
    token: str
    conversation_id: str | None
    expires_in: int


class DirectLineUnavailable(Exception):
    """Direct Line gave no token (down, slow, or it refused the secret)."""


class DirectLineTokens:
    def __init__(self, endpoint: str, secret: str, *, timeout: float = 5.0) -> None:
        self._url = f"{endpoint.rstrip('/')}/v3/directline/tokens/generate"
        self._secret = secret
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def generate(self, user_id: str) -> DirectLineToken:
        if self._session is None:
            raise RuntimeError("DirectLineTokens.open() was not awaited")
        last_error = "no answer"
        for _ in range(2):  # one retry: a page load should not wait longer
            try:
                async with self._session.post(
                    self._url,
                    json={"user": {"id": user_id}},
                    headers={"Authorization": f"Bearer {self._secret}"},
                ) as response:
                    if response.status >= 500:
                        last_error = f"Direct Line answered {response.status}"
                        continue
                    if response.status != 200:
                        # Never log the request: it carries the secret.
                        raise DirectLineUnavailable(f"Direct Line answered {response.status}")
                    body = await response.json(content_type=None)
                    return DirectLineToken(
                        str(body["token"]),
                        body.get("conversationId"),
                        int(body.get("expires_in", 3600)),
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                last_error = f"Direct Line unreachable: {type(error).__name__}"
            except (KeyError, TypeError, ValueError):
                raise DirectLineUnavailable("Direct Line answered without a token") from None
        log.warning("no Direct Line token: %s", last_error)
        raise DirectLineUnavailable(last_error)
