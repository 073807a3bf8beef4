"""A channel on loopback, speaking the Bot Framework protocol to a running bot.

It posts channel-shaped activities to the bot's /api/messages and runs the
connector the bot replies to (the activity's serviceUrl), exactly as Teams,
Web Chat or Messenger do through Azure. Used by `make chat` and the protocol tests.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

Json = dict[str, Any]

BOT_ACCOUNT = {"id": "customer-service-bot", "name": "Customer Service"}
TEAMS_TENANT = "00000000-0000-4000-8000-0000000000aa"


@dataclass(frozen=True)
class ChannelUser:
    id: str
    name: str
    # Teams: the Entra object id (derived from the id when not given) and the roster's email.
    aad_object_id: str | None = None
    email: str | None = None

    def teams_object_id(self) -> str:
        return self.aad_object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, self.id))


class LocalChannel:
    def __init__(
        self,
        bot_url: str,
        channel_id: str = "webchat",
        on_reply: Callable[[Json], None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.bot_url = bot_url
        self.channel_id = channel_id
        self.service_url = ""
        self._on_reply = on_reply
        self._timeout = timeout
        self._received: dict[str, list[Json]] = defaultdict(list)
        self._members: dict[str, ChannelUser] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        # What the connector answers the next activities instead of taking them, in order:
        # (status, Retry-After seconds or None); a test makes the channel fail this way.
        self.failures: list[tuple[int, float | None]] = []
        # Conversations the connector refuses for good (the user blocked the bot: 403).
        self.refused: dict[str, int] = {}
        # Every activity POSTed to the connector, with the request's Authorization header.
        self.requests: list[tuple[str | None, Json]] = []
        # Signs what the channel posts to the bot (auth on): returns the Authorization header.
        self.authorization: Callable[[], str] | None = None

    async def start(self) -> None:
        connector = web.Application()
        connector.router.add_post("/v3/conversations/{conversation}/activities", self._receive)
        connector.router.add_post(
            "/v3/conversations/{conversation}/activities/{reply_to}", self._receive
        )
        connector.router.add_put(
            "/v3/conversations/{conversation}/activities/{activity}", self._receive
        )
        # The roster, as Teams answers TeamsInfo.get_member.
        connector.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        self._runner = web.AppRunner(connector, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.service_url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> LocalChannel:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def conversation(self, user: ChannelUser | None = None) -> Conversation:
        user = user or ChannelUser(f"user-{uuid.uuid4().hex[:8]}", "Customer")
        self._members[user.id] = user
        return Conversation(self, user, f"{self.channel_id}-{uuid.uuid4().hex}")

    def channel_thread(self, user: ChannelUser, conversation_id: str, team_id: str) -> Conversation:
        """A Teams channel conversation (or one thread of it, "<channel>;messageid=<root>")
        of the team `team_id`, where `user` writes."""
        self._members[user.id] = user
        return TeamsChannelThread(self, user, conversation_id, team_id)

    def received(self, conversation_id: str) -> list[Json]:
        """Every activity the bot sent to this conversation, in order."""
        return list(self._received[conversation_id])

    async def post(self, activity: Json) -> aiohttp.ClientResponse:
        if self._session is None:
            raise RuntimeError("LocalChannel.start() was not awaited")
        headers = {"Authorization": self.authorization()} if self.authorization else {}
        async with self._session.post(self.bot_url, json=activity, headers=headers) as response:
            await response.read()
            return response

    async def _member(self, request: web.Request) -> web.Response:
        user = self._members.get(request.match_info["member"])
        if user is None:
            return web.json_response({"error": {"code": "MemberNotFound"}}, status=404)
        member = {"id": user.id, "name": user.name, "aadObjectId": user.teams_object_id()}
        if user.email:
            member.update(email=user.email, userPrincipalName=user.email)
        return web.json_response(member)

    async def _receive(self, request: web.Request) -> web.Response:
        activity = await request.json()
        conversation = request.match_info["conversation"]
        if request.method == "POST":
            self.requests.append((request.headers.get("Authorization"), activity))
            if conversation in self.refused:
                return web.json_response({"error": {"code": "Forbidden"}},
                                         status=self.refused[conversation])  # fmt: skip
            if self.failures:
                status, retry_after = self.failures.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return web.json_response({"error": {"code": "Failed"}}, status=status,
                                         headers=headers)  # fmt: skip
        if request.method == "POST":
            # The id the channel gives a new activity (a Teams post's id names its thread).
            activity["id"] = uuid.uuid4().hex
        else:
            activity["updated"] = True
        self._received[request.match_info["conversation"]].append(activity)
        if self._on_reply is not None:
            self._on_reply(activity)
        return web.json_response({"id": activity["id"]})


class Conversation:
    """One customer's conversation with the bot on the local channel."""

    def __init__(self, channel: LocalChannel, user: ChannelUser, conversation_id: str) -> None:
        self.channel = channel
        self.user = user
        self.id = conversation_id

    async def join(self) -> list[Json]:
        """The channel's conversationUpdate (user and bot added); returns the bot's replies."""
        return await self.send(
            type="conversationUpdate",
            membersAdded=[self._account(), dict(BOT_ACCOUNT)],
        )

    async def say(self, text: str | None = None, **fields: Any) -> list[Json]:
        """A message from the customer; returns the bot's replies to it."""
        if text is not None:
            fields["text"] = text
        return await self.send(type="message", **fields)

    async def send(self, **fields: Any) -> list[Json]:
        activity = self.activity(**fields)
        before = len(self.channel.received(self.id))
        response = await self.channel.post(activity)
        if response.status >= 300:
            raise RuntimeError(f"the bot answered HTTP {response.status}")
        # The bot replies within the request: when it answers, its replies are here. Where
        # replies name the activity they answer (botbuilder leaves replyToId out on Web
        # Chat and Direct Line), that keeps apart replies to messages sent at once.
        return [
            a
            for a in self.channel.received(self.id)[before:]
            if a.get("replyToId") in (activity["id"], None)
        ]

    def activity(self, **fields: Any) -> Json:
        """An activity shaped as this channel sends it."""
        channel_id = self.channel.channel_id
        activity: Json = {
            "id": uuid.uuid4().hex,
            "timestamp": datetime.now(UTC).isoformat(),
            "channelId": channel_id,
            "serviceUrl": self.channel.service_url,
            "from": self._account(),
            "recipient": dict(BOT_ACCOUNT),
            "conversation": {"id": self.id},
            "locale": "en-US",
        }
        if channel_id == "msteams":
            activity["conversation"].update(conversationType="personal", tenantId=TEAMS_TENANT)
            activity["channelData"] = {"tenant": {"id": TEAMS_TENANT}}
        if fields.get("type") == "message":
            activity["textFormat"] = "plain"
        activity.update(fields)
        return activity

    def _account(self) -> Json:
        account: Json = {"id": self.user.id, "name": self.user.name}
        if self.channel.channel_id == "msteams":
            account["aadObjectId"] = self.user.teams_object_id()
        return account


class TeamsChannelThread(Conversation):
    """A member of a team writing in one of its channels, as Teams sends it to the bot."""

    def __init__(
        self, channel: LocalChannel, user: ChannelUser, conversation_id: str, team_id: str
    ) -> None:
        super().__init__(channel, user, conversation_id)
        self.team_id = team_id

    def activity(self, **fields: Any) -> Json:
        activity = super().activity(**fields)
        channel_id = self.id.split(";messageid=")[0]
        activity["conversation"] = {"id": self.id, "conversationType": "channel",
                                    "isGroup": True, "tenantId": TEAMS_TENANT}  # fmt: skip
        activity["channelData"] = {"tenant": {"id": TEAMS_TENANT}, "team": {"id": self.team_id},
                                   "channel": {"id": channel_id}}  # fmt: skip
        return activity

    def thread(self, root_id: str) -> TeamsChannelThread:
        """The thread under the post `root_id` (a case's card)."""
        root = self.id.split(";messageid=")[0]
        return TeamsChannelThread(self.channel, self.user, f"{root};messageid={root_id}",
                                  self.team_id)  # fmt: skip
