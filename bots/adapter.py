"""The Bot Framework adapter, lean: botbuilder's CloudAdapter through its public extension points.

botbuilder builds a new ConnectorClient and a new UserTokenClient for every
incoming activity (their constructors dominate a turn's CPU) and sends replies
with `requests` in a thread pool, a new connection each time. Here:

- connector and user-token clients are built once per service URL, audience and
  app id and reused (their credentials still fetch and refresh tokens as botbuilder's do);
- replies go out on the app's pooled aiohttp session, with a deadline and one retry;
- every other connector call (Teams roster, updates) keeps botbuilder's client,
  with a deadline instead of its 100 s default.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import sleep
from urllib.parse import quote

import aiohttp
import orjson
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, CallerIdConstants, ResourceResponse
from botframework.connector import Channels
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from cachetools import LRUCache
from yarl import URL

from bots.channel_tokens import ChannelTokenValidator
from channels.reference import ChannelRefused
from state.wire import to_json

log = logging.getLogger(__name__)

# A reply to the channel: botbuilder's defaults are 100 s a call and 3 retries with backoff up
# to 90 s, far past Teams' 15 s turn. Two tries of 4 s bound a reply; the turn error handler logs.
CONNECTOR_TIMEOUT = 4.0
CONNECTOR_RETRIES = 1
# Connector clients kept for reuse, least recently used dropped first: one per channel
# service URL in practice; with auth off, any caller can name a new one.
MAX_CONNECTORS = 256


class ChannelAuthentication(ConfigurationBotFrameworkAuthentication):
    """botbuilder's authentication from Settings, with its clients built once and bounded,
    and tokens checked by our own non-blocking validator (bots/channel_tokens.py)."""

    def __init__(self, configuration: object, tokens: ChannelTokenValidator | None) -> None:
        super().__init__(configuration)
        # None: auth is off (no MicrosoftAppId); every activity is anonymous.
        self._tokens = tokens
        self._connectors: LRUCache[tuple[str, str | None], ConnectorClient] = LRUCache(
            maxsize=MAX_CONNECTORS
        )
        self._user_token_clients: dict[str | None, UserTokenClient] = {}

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        if self._tokens is None:
            # Auth off: botbuilder would still check a token that is sent, fetching its keys
            # on the event loop. Any header proves nothing here, so none is looked at.
            result = await super().authenticate_request(activity, "")
        else:
            claims = await self._tokens.validate(auth_header, activity)
            result = AuthenticateRequestResult()
            result.claims_identity = claims
            result.audience = self.get_originating_audience()
            result.caller_id = CallerIdConstants.public_azure_channel
            result.connector_factory = super().create_connector_factory(claims)
        # The connector a turn replies through comes with the authentication result.
        if result.connector_factory is not None:
            result.connector_factory = _ReusedConnectors(result.connector_factory, self._connectors)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _ReusedConnectors(
            super().create_connector_factory(claims_identity), self._connectors
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = claims_identity.claims.get(AuthenticationConstants.AUDIENCE_CLAIM)
        if app_id not in self._user_token_clients:
            self._user_token_clients[app_id] = await super().create_user_token_client(
                claims_identity
            )
        return self._user_token_clients[app_id]


class _ReusedConnectors(ConnectorFactory):
    def __init__(
        self, inner: ConnectorFactory, clients: LRUCache[tuple[str, str | None], ConnectorClient]
    ) -> None:
        self._inner = inner
        self._clients = clients

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            client.config.connection.timeout = CONNECTOR_TIMEOUT
            client.config.retry_policy.retries = CONNECTOR_RETRIES
            client.config.retry_policy.backoff_factor = 0.2
            client.config.retry_policy.max_backoff = 1
            self._clients[key] = client
        return client


class LeanCloudAdapter(CloudAdapter):
    """Sends a turn's replies on one pooled aiohttp session instead of requests in threads."""

    def __init__(self, authentication: ChannelAuthentication) -> None:
        super().__init__(authentication)
        self._session: aiohttp.ClientSession | None = None

    def _process_turn_results(self, context: TurnContext) -> InvokeResponse | None:
        result = super()._process_turn_results(context)
        # The turn is over. What its state held (dialog contexts, closures, accessors'
        # caches, many pointing back at the turn) is freed now by reference counting, not
        # later by the cycle collector: a turn's cyclic garbage, 240 objects, halves.
        context.turn_state.clear()
        return result

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=CONNECTOR_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=300),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        if self._session is None:  # not serving (e.g. a tool): botbuilder's own way
            return await super().send_activities(context, activities)
        responses = []
        for activity in activities:
            activity.id = None
            if activity.type == "delay":
                await sleep(int((activity.value or 1000) / 1000))
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[self._INVOKE_RESPONSE_KEY] = activity
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.trace and activity.channel_id != Channels.emulator:
                responses.append(ResourceResponse(id=""))
            else:
                connector = context.turn_state.get(self.BOT_CONNECTOR_CLIENT_KEY)
                responses.append(await self._post(activity, connector))
        return responses

    async def _post(
        self, activity: Activity, connector: ConnectorClient | None
    ) -> ResourceResponse:
        # Ids come from the channel's activity: encoded, so none can reach another path.
        conversation = quote(activity.conversation.id, safe="")
        url = f"{activity.service_url.rstrip('/')}/v3/conversations/{conversation}/activities"
        if activity.reply_to_id:
            url += f"/{quote(activity.reply_to_id, safe='')}"
        return ResourceResponse(id=await self.deliver("POST", url, to_json(activity), connector))

    async def deliver(
        self,
        method: str,
        url: str,
        body: dict,
        connector: ConnectorClient | None,
        retries: int = CONNECTOR_RETRIES,
    ) -> str:
        """Sends one activity to the channel's connector; returns the id it was given.
        ChannelRefused when the connector answered an error, ConnectionError when it could
        not be reached (`retries` more tries first: none for a sender that retries itself)."""
        if self._session is None:
            raise ConnectionError("the bot is not serving: no connection to channels")
        headers = {"Content-Type": "application/json"}
        authorization = await _authorization(connector)
        if authorization:
            headers["Authorization"] = authorization
        payload = orjson.dumps(body)  # encoded once for all tries
        for attempt in range(retries + 1):
            try:
                async with self._session.request(
                    method, URL(url, encoded=True), data=payload, headers=headers
                ) as response:
                    if response.status >= 500 and attempt < retries:
                        continue
                    if response.status >= 300:
                        raise ChannelRefused(response.status, _retry_after(response))
                    answer = (
                        await response.json(content_type=None) if response.content_length else {}
                    )
                    return str((answer or {}).get("id") or "")
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                if attempt == retries:
                    raise ConnectionError(
                        f"the channel is unreachable: {type(error).__name__}"
                    ) from error
                await asyncio.sleep(0.2)
        raise ConnectionError("the channel did not take the activity")


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """Retry-After in seconds (a date form is rare from a connector and read as unknown)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


async def _authorization(connector: ConnectorClient | None) -> str | None:
    """The bearer token botbuilder's credentials would sign the request with (None: auth off)."""
    credentials = getattr(getattr(connector, "config", None), "credentials", None)
    app_id = getattr(credentials, "microsoft_app_id", None)
    if not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
        return None
    # msal caches tokens; a refresh may call the network, so never on the event loop.
    token = await asyncio.to_thread(credentials.get_access_token)
    return f"Bearer {token}"
