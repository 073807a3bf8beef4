"""Messages the bot sends outside a customer's turn: to a customer an agent answers, to
the agents' channel, with the same pooled connection and credentials as replies."""

from __future__ import annotations

from urllib.parse import quote

from bots.adapter import CONNECTOR_RETRIES, ChannelAuthentication, LeanCloudAdapter
from channels.reference import ConversationRef
from handoff.desk import Json


class ChannelOutbound:
    """The hand-off core's Outbound port over the Bot Framework connector."""

    def __init__(
        self, adapter: LeanCloudAdapter, authentication: ChannelAuthentication, app_id: str
    ) -> None:
        self._adapter = adapter
        self._authentication = authentication
        self._app_id = app_id

    async def send(self, to: ConversationRef, activity: Json, *, retry: bool = True) -> str:
        """The id the channel gave the activity. ChannelRefused or ConnectionError when it
        was not delivered (tried once more first, unless `retry` is off)."""
        url = f"{_conversation_url(to)}/activities"
        retries = CONNECTOR_RETRIES if retry else 0
        return await self._adapter.deliver(
            "POST", url, _addressed(to, activity), await self._connector(to), retries
        )

    async def update(self, to: ConversationRef, activity_id: str, activity: Json) -> None:
        url = f"{_conversation_url(to)}/activities/{quote(activity_id, safe='')}"
        body = {**_addressed(to, activity), "id": activity_id}
        await self._adapter.deliver("PUT", url, body, await self._connector(to))

    async def _connector(self, to: ConversationRef):
        claims = self._adapter.create_claims_identity(self._app_id)
        factory = self._authentication.create_connector_factory(claims)
        return await factory.create(to.service_url, None)


def _conversation_url(to: ConversationRef) -> str:
    return f"{to.service_url.rstrip('/')}/v3/conversations/{quote(to.conversation_id, safe='')}"


def _addressed(to: ConversationRef, activity: Json) -> Json:
    conversation: Json = {"id": to.conversation_id}
    if to.conversation_type:
        conversation["conversationType"] = to.conversation_type
    if to.tenant_id:
        conversation["tenantId"] = to.tenant_id
    addressed: Json = {
        **activity,
        "channelId": to.channel_id,
        "serviceUrl": to.service_url,
        "conversation": conversation,
        "from": {"id": to.bot_id, "name": to.bot_name},
    }
    if to.user_id:
        addressed["recipient"] = {"id": to.user_id, "name": to.user_name}
    if to.locale:
        addressed.setdefault("locale", to.locale)
    return addressed


class NoChannels:
    """Outside a served app (dialog tests, tools): nothing can be sent outside a turn."""

    async def send(self, to: ConversationRef, activity: Json, *, retry: bool = True) -> str:
        raise ConnectionError("the bot is not serving: no connection to channels")

    async def update(self, to: ConversationRef, activity_id: str, activity: Json) -> None:
        raise ConnectionError("the bot is not serving: no connection to channels")
