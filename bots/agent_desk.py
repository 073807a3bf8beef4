"""Activities from the agents' side, kept away from the customer dialogs.

- The agents' Teams channel: `/desk here` names it (an agent allowed by
  HANDOFF_AGENT_IDS or HANDOFF_TEAM_ID only); in a case's thread, "Take it" and "End"
  on the card, `/end`, `/queue`, and what the agent writes (relayed to the customer).
- `handoff.status` events from a contact center, on the customer's conversation.
Anything else goes on to the bot.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import Activity

from channels import replies
from channels.reference import ConversationRef
from dialogs.reply_activity import send_reply
from handoff.cases import Agent, Case, CaseState
from handoff.protocol_desk import STATUS
from handoff.service import HandoffService
from handoff.teams_desk import ACTION_FIELD, END, TAKE, TeamsDesk
from state.documents import StorageError
from state.turn_state import TurnState

log = logging.getLogger(__name__)

HELP = (
    "In this channel: each customer waiting for a person is a card. **Take it** on the "
    "card, then write in its thread: the customer sees it on their own channel. **End** "
    "(or `/end` in the thread) hands them back to the bot. `/queue` lists who is waiting."
)


@dataclass(frozen=True)
class AgentPolicy:
    """Who may work cases: Entra object ids (HANDOFF_AGENT_IDS), or members of one team
    (HANDOFF_TEAM_ID)."""

    agent_ids: frozenset[str] = frozenset()
    team_id: str = ""

    def allows(self, activity: Activity) -> bool:
        sender = activity.from_property
        if getattr(sender, "aad_object_id", None) in self.agent_ids:
            return True
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team = data.get("team") if isinstance(data.get("team"), dict) else {}
        return bool(self.team_id) and self.team_id in (team.get("id"), team.get("aadGroupId"))


class AgentDeskMiddleware(Middleware):
    def __init__(
        self,
        handoff: HandoffService,
        teams_desk: TeamsDesk | None,
        policy: AgentPolicy,
        turn_state: TurnState,
    ) -> None:
        self._handoff = handoff
        self._teams_desk = teams_desk
        self._policy = policy
        self._turn_state = turn_state

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        activity = context.activity
        if activity.type == "event" and activity.name == STATUS:
            if await self._turn_state.claim(context):
                await self._status(context)
            return
        if (
            self._teams_desk is not None
            and _in_teams_channel(activity)
            and await self._agents_channel(context, self._teams_desk)
        ):
            return
        await logic()

    # --- Teams ---------------------------------------------------------------------

    async def _agents_channel(self, context: TurnContext, desk: TeamsDesk) -> bool:
        activity = context.activity
        text = _text(activity)
        if activity.type == "message" and text.lower().startswith("/desk"):
            await self._register(context, desk)
            return True
        channel = await desk.channel()
        if channel is None or not _thread_of(activity.conversation.id, channel.conversation_id):
            return False
        if not await self._turn_state.claim(context):
            return True  # a redelivery: already done
        if not self._policy.allows(activity):
            if activity.type == "message":
                await _say(context, "Only the support team's agents can work cases here.")
            return True
        agent = Agent(id=_agent_id(activity), name=activity.from_property.name or "An agent")
        value = activity.value if isinstance(activity.value, dict) else {}
        try:
            if value.get(ACTION_FIELD) == TAKE:
                await self._take(context, str(value.get("case", "")), agent)
            elif value.get(ACTION_FIELD) == END or text.lower() == "/end":
                await self._end(context, str(value.get("case", "")), agent)
            elif text.lower() == "/queue":
                await self._queue(context)
            elif activity.type == "typing":
                case = await self._handoff.case_for_thread(activity.conversation.id)
                if case is not None and _is_theirs(case, agent):
                    await self._handoff.agent_typing(case)
            elif activity.type == "message":
                await self._relay(context, agent, _with_links(activity, text))
        except StorageError as error:
            log.warning("agents' channel: the case could not be read or changed: %s", error)
            await _say(context, "Sorry, I couldn't reach the case just now: please try again.")
        return True

    async def _register(self, context: TurnContext, desk: TeamsDesk) -> None:
        activity = context.activity
        if not self._policy.allows(activity):
            log.warning("/desk from someone not in HANDOFF_AGENT_IDS or HANDOFF_TEAM_ID")
            await _say(context, "Only the support team's agents can set up the desk "
                                "(HANDOFF_AGENT_IDS or HANDOFF_TEAM_ID).")  # fmt: skip
            return
        root = activity.conversation.id.split(";messageid=")[0]
        channel = ConversationRef(
            channel_id=activity.channel_id, service_url=activity.service_url,
            conversation_id=root, bot_id=activity.recipient.id, bot_name=activity.recipient.name,
            conversation_type="channel", tenant_id=activity.conversation.tenant_id,
        )  # fmt: skip
        await desk.register(channel, _agent_id(activity), self._handoff.now())
        log.info("the agents' channel was set by an agent")
        await _say(context, "This channel now receives customers who ask for a person.\n\n"
                   + HELP)  # fmt: skip

    async def _take(self, context: TurnContext, case_id: str, agent: Agent) -> None:
        case = await self._case_here(context, case_id)
        if case is None:
            return
        try:
            taken = await self._handoff.take(case.id, agent)
        except ConnectionError as error:
            log.warning("case %s taken, but the customer was not told: %s", case.id, error)
            await _say(context, "You have the case, but the customer's channel did not answer.")
            return
        if taken is None or taken.by_you:
            return  # the card now says who has it
        holder = taken.case.agent
        if taken.case.state == CaseState.WITH_AGENT and holder is not None:
            if holder.id != agent.id:
                await _say(context, f"{holder.name} already has this case.")
        else:
            await _say(context, "This case is no longer waiting.")

    async def _end(self, context: TurnContext, case_id: str, agent: Agent) -> None:
        case = await self._case_here(context, case_id)
        if case is None:
            return
        if not _is_theirs(case, agent):
            await _say(context, "Only the agent who has the case can end it.")
            return
        try:
            await self._handoff.end(case.id)
        except ConnectionError as error:
            log.warning("case %s ended, but the customer was not told: %s", case.id, error)

    async def _queue(self, context: TurnContext) -> None:
        waiting = await self._handoff.waiting_cases()
        if not waiting:
            await _say(context, "Nobody is waiting.")
            return
        now = self._handoff.now()
        lines = [f"{position}. {case.customer_name or 'A customer'}, waiting "
                 f"{int((now - case.requested_at).total_seconds() // 60)} min"
                 for position, case in waiting]  # fmt: skip
        await _say(context, "Waiting now:\n\n" + "\n\n".join(lines))

    async def _relay(self, context: TurnContext, agent: Agent, text: str) -> None:
        case = await self._handoff.case_for_thread(context.activity.conversation.id)
        if case is None:
            await _say(context, HELP)
            return
        if case.state == CaseState.WAITING:
            await _say(context, "Take the case first (**Take it** on the card): then the "
                                "customer sees what you write.")  # fmt: skip
            return
        if not _is_theirs(case, agent):
            holder = case.agent.name if case.agent else "Nobody"
            await _say(context, f"{holder} has this case: the customer did not see that.")
            return
        if not case.state.open:
            await _say(context, "This case is over: the customer did not see that.")
            return
        if not text:
            return
        try:
            await self._handoff.agent_said(case, agent, text)
        except ConnectionError as error:
            log.warning("case %s: the agent's message did not reach the customer: %s",
                        case.id, error)  # fmt: skip
            await _say(context, "That did not reach the customer (their channel did not "
                                "answer). Please send it again.")  # fmt: skip

    async def _case_here(self, context: TurnContext, case_id: str) -> Case | None:
        """The case of this thread; a button names its case, and must name this one."""
        case = await self._handoff.case_for_thread(context.activity.conversation.id)
        if case is None or (case_id and case.id != case_id):
            await _say(context, "I can't find that case here.")
            return None
        return case

    # --- a contact center ---------------------------------------------------------------

    async def _status(self, context: TurnContext) -> None:
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        state = value.get("state")
        case = await self._handoff.case_for_thread(activity.conversation.id)
        if case is None or case.desk != "protocol":
            log.warning("handoff.status for a conversation with no contact-center case: ignored")
            return
        if state == "accepted":
            name = value.get("message") if isinstance(value.get("message"), str) else None
            agent = Agent(id=getattr(activity.from_property, "id", None) or "contact-center",
                          name=(name or "Our team")[:100])  # fmt: skip
            await self._handoff.desk_accepted(case.id, agent)
        elif state == "failed":
            if await self._handoff.desk_failed(case.id) is not None:
                await send_reply(context, replies.TEAM_UNREACHABLE)
        elif state == "completed":
            if await self._handoff.desk_completed(case.id) is not None:
                await send_reply(context, replies.agent_left(replies.OUR_TEAM))
        else:
            log.warning("handoff.status with an unknown state: ignored")


def _in_teams_channel(activity: Activity) -> bool:
    return activity.channel_id == "msteams" and (
        getattr(activity.conversation, "conversation_type", None) == "channel"
    )


def _thread_of(conversation_id: str, channel_id: str) -> bool:
    return conversation_id == channel_id or conversation_id.startswith(f"{channel_id};")


def _is_theirs(case: Case, agent: Agent) -> bool:
    return case.agent is not None and case.agent.id == agent.id


def _agent_id(activity: Activity) -> str:
    # The channel's user id: Teams sends it on every activity (a card's click may come
    # without the Entra object id, which only decides who is an agent).
    return activity.from_property.id


def _text(activity: Activity) -> str:
    text = activity.text or ""
    if text and activity.entities:
        with contextlib.suppress(KeyError, TypeError, AttributeError):
            text = TurnContext.remove_recipient_mention(activity) or ""
    return text.strip()


def _with_links(activity: Activity, text: str) -> str:
    links = [f"{a.name or 'attachment'}: {a.content_url}"
             for a in activity.attachments or [] if getattr(a, "content_url", None)]  # fmt: skip
    return "\n".join(filter(None, [text, *links]))


async def _say(context: TurnContext, text: str) -> None:
    await context.send_activity(Activity(type="message", text=text, text_format="markdown"))
