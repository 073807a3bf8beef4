"""The ActivityHandler: the edge between a channel's activities and the dialogs.

A turn: claim the activity (a redelivery is dropped), resolve which customer
the channel account belongs to (linking accounts first when the message is a
link code), then, one turn at a time per conversation and customer, load
state, run the dialogs and save. A customer this process remembers for the
account is used without reading the account's mapping, once the loaded
customer context confirms it still lists the account.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botbuilder.core import ActivityHandler, ConversationState, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.dialogs import Dialog
from botbuilder.schema import Activity, ChannelAccount

from analytics.events import EventName
from analytics.metrics import SESSION_GAP
from bots.feedback import FeedbackCollector
from bots.handoff_relay import FollowUp, HandoffRelay
from bots.translation import TurnTranslation
from channels import replies
from channels.text import localize
from customers.accounts import ChannelAccount as CustomerChannelAccount
from customers.context import ChannelAccountRecord, CustomerContext
from customers.identity import EmailLookup, IdentityService, LinkOutcome
from customers.link_codes import code_in_link_command, is_unlink_command
from customers.privacy import PrivacyPolicy
from dialogs.dialog_runner import DialogRunner
from dialogs.handoff_dialog import CASE, FOLLOW_UP, OFFERED_BEFORE, REASON, WHY_NO_PERSON
from dialogs.main_dialog import HANDOFF, RESUME
from dialogs.reply_activity import (
    FOR_AGENT,
    LANGUAGE,
    OFFERED_CHOICES,
    PICKED_CHOICE,
    SHOWN_CHOICES,
    conversation_ref,
    send_reply,
)
from dialogs.turn_events import ANALYTICS_ID, record
from handoff.cases import TRANSCRIPT_LENGTH, TRANSCRIPT_TEXT_LIMIT
from nlu.language import LanguageDetector, choose
from state.customer_context import CUSTOMER_ID, CustomerContextAccessor
from state.documents import EtagConflict
from state.turn_state import TurnState

log = logging.getLogger(__name__)

ROSTER_LOOKUP_TIMEOUT = 3.0
# Welcomes sent for one conversationUpdate, however many members it adds.
MAX_WELCOMES = 10
_IDENTITY_REPLY = "identityReply"
_REMEMBERED_CUSTOMER = "customerRemembered"
_LINK_REPLIES = {
    LinkOutcome.LINKED: replies.LINKED,
    LinkOutcome.ALREADY_LINKED: replies.ALREADY_LINKED,
    LinkOutcome.WRONG_CODE: replies.LINK_CODE_REFUSED,
    LinkOutcome.TOO_MANY_TRIES: replies.LINK_TOO_MANY_TRIES,
    LinkOutcome.LINKING_PAUSED: replies.LINKING_PAUSED,
}


class CustomerServiceBot(ActivityHandler):
    def __init__(
        self,
        turn_state: TurnState,
        conversation_state: ConversationState,
        customer_contexts: CustomerContextAccessor,
        identity: IdentityService,
        dialog: Dialog,
        clock: Callable[[], datetime],
        allowed_teams_tenants: frozenset[str] = frozenset(),
        handoff_relay: HandoffRelay | None = None,
        privacy: PrivacyPolicy | None = None,
        feedback: FeedbackCollector | None = None,
        languages: LanguageDetector | None = None,
        translation: TurnTranslation | None = None,
    ) -> None:
        self._feedback = feedback
        # None: the language is chosen from what the customer asks, the past and the locale.
        self._languages = languages
        # None: Translator is off (TRANSLATOR_ENDPOINT unset).
        self._translation = translation
        self._allowed_teams_tenants = allowed_teams_tenants
        self._handoff_relay = handoff_relay
        self._privacy = privacy or PrivacyPolicy()
        self._turn_state = turn_state
        self._conversation_state = conversation_state
        self._customer_contexts = customer_contexts
        self._identity = identity
        self._clock = clock
        self._dialogs = DialogRunner(dialog, conversation_state.create_property("DialogState"))
        self._offered_choices = conversation_state.create_property("offeredChoices")
        self._shown_choices = conversation_state.create_property("shownChoices")
        self._welcomed = conversation_state.create_property("welcomedMembers")
        # The last messages both ways, for the agent a customer is handed to.
        self.transcript = conversation_state.create_property("recentMessages")
        self._last_message_at = conversation_state.create_property("lastMessageAt")

    async def on_turn(self, turn_context: TurnContext) -> None:
        if not self._tenant_allowed(turn_context.activity):
            log.warning(
                "activity %s from a Teams tenant not in TEAMS_ALLOWED_TENANTS: ignored",
                turn_context.activity.id,
            )
            return
        if not await self._turn_state.claim(turn_context):
            log.info("activity %s delivered again: already processed", turn_context.activity.id)
            return
        account = channel_account(turn_context.activity)
        for from_storage in (False, True):
            if account is not None:
                await self._resolve_customer(turn_context, account, from_storage=from_storage)
            async with self._turn_state.exclusive(turn_context):
                await self._turn_state.load(turn_context)
                if self._turn_state.answered_before(turn_context):
                    log.info(
                        "activity %s delivered again: answered before", turn_context.activity.id
                    )
                    return
                if not await self._customer_confirmed(turn_context, account):
                    continue  # the remembered customer no longer has this account
                await self._run(turn_context, account)
                # Saved only when the turn succeeded: a failed turn's half-made changes are
                # dropped.
                try:
                    await self._turn_state.save(turn_context, rebase=turn_context.responded)
                except EtagConflict:
                    # Another process changed this state and nothing was sent yet: run the
                    # turn again on the fresh state rather than patching its outcome.
                    await self._turn_state.load(turn_context)
                    await self._run(turn_context, account)
                    await self._turn_state.save(turn_context)
                return

    async def _run(self, turn_context: TurnContext, account: CustomerChannelAccount | None) -> None:
        if account is not None:
            record = ChannelAccountRecord(
                account=account.key,
                channel=account.channel,
                user_id=account.user_id,
                linked_at=self._clock(),
            )
            conversation_key = self._conversation_state.get_storage_key(turn_context)
            now = self._clock()
            day = now.date().isoformat()
            # Where updates can reach this account later; a name is not needed for that.
            reference = conversation_ref(turn_context.activity).model_copy(
                update={"user_name": None}
            )
            zone = _time_zone(turn_context.activity)

            def seen(context: CustomerContext) -> None:
                context.saw(record, conversation_key, now)
                context.active_on(day)
                context.reachable_at(record.account, reference)
                if zone:
                    context.set_time_zone(zone)

            context = await self._customer_contexts.update(turn_context, seen)
            turn_context.turn_state[ANALYTICS_ID] = context.analytics_id
            # The language to greet or answer in until a message says otherwise.
            turn_context.turn_state[LANGUAGE] = choose(
                "", turn_context.activity.locale, context.preferences.language, None
            ).language
        if turn_context.activity.type == "message":
            await self._note_session(turn_context)
        keeping = turn_context.activity.type == "message" and not self._privacy.restricts(
            turn_context.activity.channel_id
        )
        said: list[str] = []
        if keeping:
            turn_context.on_send_activities(_capture_texts(said))
        await super().on_turn(turn_context)
        if self._feedback is not None:
            await self._feedback.remember(turn_context)
        if keeping:
            await self._keep_transcript(turn_context, said)
        if OFFERED_CHOICES in turn_context.turn_state:
            await self._offered_choices.set(turn_context, turn_context.turn_state[OFFERED_CHOICES])
            await self._shown_choices.set(turn_context, turn_context.turn_state[SHOWN_CHOICES])

    async def _resolve_customer(
        self, turn_context: TurnContext, account: CustomerChannelAccount, *, from_storage: bool
    ) -> None:
        """Who this is; a link or unlink command changes it before any state is loaded."""
        text = utterance(turn_context.activity) if turn_context.activity.type == "message" else ""
        code = code_in_link_command(text)
        unlink = is_unlink_command(text)
        # An account this process has seen needs no read, unless the turn changes identities.
        remembered = None if from_storage or code or unlink else self._identity.remembered(account)
        turn_context.turn_state[_REMEMBERED_CUSTOMER] = remembered is not None
        if remembered is not None:
            customer_id = remembered
        else:
            email_lookup = _roster_email(turn_context) if account.channel == "msteams" else None
            customer_id = await self._identity.resolve(account, email_lookup)
        if turn_context.activity.type == "message":
            if code:
                result = await self._identity.redeem(code, account, customer_id)
                customer_id = result.customer_id
                turn_context.turn_state[_IDENTITY_REPLY] = result.outcome
            elif unlink:
                customer_id = await self._identity.unlink(account, customer_id)
                turn_context.turn_state[_IDENTITY_REPLY] = "unlinked"
        turn_context.turn_state[CUSTOMER_ID] = customer_id

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        people = [member for member in members_added if member.id and member.id != bot_id]
        if len(people) > MAX_WELCOMES:
            # A team of thousands joining at once is greeted in the channel, not one by one.
            log.info("%d members added at once: welcoming the first %d", len(people), MAX_WELCOMES)
        for member in people[:MAX_WELCOMES]:
            await self._welcome(turn_context, member.id)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        # Teams: the app was removed; the bot may not write here until it is added again.
        account = channel_account(turn_context.activity)
        if account is not None:
            await self._customer_contexts.update(
                turn_context, lambda c: c.unreachable_at(account.key)
            )

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        # Teams: the app was installed for this user or team.
        sender = turn_context.activity.from_property
        if sender is not None and sender.id:
            await self._welcome(turn_context, sender.id)

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        # The web chat page announces a visitor (Web Chat itself says nothing until spoken to).
        sender = turn_context.activity.from_property
        if turn_context.activity.name == "webchat/join" and sender is not None and sender.id:
            await self._welcome(turn_context, sender.id)

    async def _welcome(self, turn_context: TurnContext, member_id: str) -> None:
        """Once per member and conversation: Teams announces an install and a join."""
        welcomed: list[str] = await self._welcomed.get(turn_context, list)
        if member_id in welcomed:
            return
        await self._welcomed.set(turn_context, [*welcomed, member_id])
        sender = getattr(turn_context.activity.from_property, "id", None)
        if member_id == sender and await self._resumable(turn_context):
            # "Welcome back! On web chat you were checking order 123456. ..."
            await self._begin_main_dialog(turn_context, {RESUME: True})
        else:
            await send_reply(turn_context, replies.WELCOME)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        outcome = turn_context.turn_state.get(_IDENTITY_REPLY)
        if outcome is not None:
            reply = replies.UNLINKED if outcome == "unlinked" else _LINK_REPLIES[outcome]
            await send_reply(turn_context, reply)
            if outcome == LinkOutcome.LINKED and await self._resumable(turn_context):
                await self._begin_main_dialog(turn_context, {RESUME: True})
            return
        text = utterance(turn_context.activity)
        offered = await self._offered_choices.get(turn_context, list)
        shown = await self._shown_choices.get(turn_context, list)
        before = (await self._customer_contexts.get(turn_context)).preferences.language
        language = choose(text, turn_context.activity.locale, before, self._languages)
        turn_context.turn_state[LANGUAGE] = language.language
        # Answers to messages sent outside a turn (by the hand-off) are known too.
        answers = [*offered, *replies.ANSWERS_ANY_TIME]
        labels = [*shown, *(localize(a, language.language) for a in replies.ANSWERS_ANY_TIME)]
        picked = replies.picked_choice(text, answers, labels)
        translated = None
        if self._translation is not None:
            translated = await self._translation.begin(
                turn_context, text, language, before, picked=picked != text
            )
        if self._handoff_relay is not None:
            for_agent = turn_context.turn_state.get(FOR_AGENT) or text
            relayed = await self._handoff_relay.message(turn_context, for_agent, picked)
            if isinstance(relayed, FollowUp):
                await self._begin_main_dialog(turn_context, {HANDOFF: {
                    FOLLOW_UP: True, REASON: relayed.case.reason.value,
                    WHY_NO_PERSON: relayed.why_no_person, CASE: relayed.case.id,
                }})  # fmt: skip
                return
            if relayed:
                return
        # Past a hand-off (whose messages are the agent's, digits included): "2" on SMS is
        # the second choice the bot offered.
        if text.isdigit() and 1 <= int(text) <= len(offered):
            text = offered[int(text) - 1]
        elif picked != text:
            text = picked
        elif translated is not None:
            text = translated.text  # in the language it is understood in
        if self._feedback is not None and await self._feedback.message(turn_context, text):
            return
        if not text:
            # An attachment, a sticker, an empty card submit: nothing to understand.
            await send_reply(turn_context, replies.NO_TEXT)
            return
        turn_context.turn_state[OFFERED_BEFORE] = offered
        turn_context.turn_state[PICKED_CHOICE] = text.lower() in {c.lower() for c in offered}
        turn_context.activity.text = text
        # The customer's own language, one of the four or (translated) any other.
        remembered = (translated and translated.language) or language.language

        def counted(context: CustomerContext) -> None:
            context.count_message()
            context.prefer_language(remembered)

        await self._customer_contexts.update(turn_context, counted)
        if language.source == "asked":
            # "Can we speak Spanish?": said so in that language; a task under way goes on.
            await self._switched_language(turn_context, language.language)
            return
        await self._dialogs.run(turn_context)

    async def _switched_language(self, turn_context: TurnContext, language: str) -> None:
        under_way = (await self._dialogs.context(turn_context)).active_dialog is not None
        name = replies.LANGUAGE_NAMES[language]
        await send_reply(
            turn_context,
            replies.language_continued(name) if under_way else replies.language_switched(name),
        )

    async def _note_session(self, turn_context: TurnContext) -> None:
        """A message after SESSION_GAP of silence in this conversation starts a session."""
        now = self._clock()
        last = await self._last_message_at.get(turn_context)
        if last is None or now - datetime.fromisoformat(last) > SESSION_GAP:
            record(turn_context, EventName.SESSION_STARTED)
        await self._last_message_at.set(turn_context, now.isoformat())

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        if turn_context.activity.name == "message/submitAction" and self._feedback is not None:
            # Teams' feedback buttons: answered 200 with no message (Teams says thanks).
            await self._feedback.teams_feedback(turn_context)
            return InvokeResponse(status=200)
        return await super().on_invoke_activity(turn_context)

    async def on_typing_activity(self, turn_context: TurnContext) -> None:
        if self._handoff_relay is not None:
            await self._handoff_relay.typing(turn_context)

    async def _keep_transcript(self, turn_context: TurnContext, said: list[str]) -> None:
        at = self._clock().isoformat()
        # A translated message as the agents read it: the customer's words and the English.
        words = turn_context.turn_state.get(FOR_AGENT) or utterance(turn_context.activity)
        lines = [{"sender": "customer", "text": words, "at": at}]
        lines += [{"sender": "bot", "text": text, "at": at} for text in said]
        kept = await self.transcript.get(turn_context, list)
        lines = [{**line, "text": line["text"][:TRANSCRIPT_TEXT_LIMIT]}
                 for line in lines if line["text"]]  # fmt: skip
        await self.transcript.set(turn_context, [*kept, *lines][-TRANSCRIPT_LENGTH:])

    async def _customer_confirmed(
        self, turn_context: TurnContext, account: CustomerChannelAccount | None
    ) -> bool:
        """A customer remembered in this process still lists the account in their context
        (unlinking, linking and forgetting all take it out)."""
        if account is None or not turn_context.turn_state.get(_REMEMBERED_CUSTOMER):
            return True
        context = await self._customer_contexts.get(turn_context)
        return any(record.account == account.key for record in context.channel_accounts)

    def _tenant_allowed(self, activity: Activity) -> bool:
        if activity.channel_id != "msteams" or not self._allowed_teams_tenants:
            return True
        account = channel_account(activity)
        return account is not None and account.tenant_id in self._allowed_teams_tenants

    async def _resumable(self, turn_context: TurnContext) -> bool:
        if CUSTOMER_ID not in turn_context.turn_state:
            return False
        context = await self._customer_contexts.get(turn_context)
        channel = turn_context.activity.channel_id
        return context.resumable_elsewhere(channel, self._clock()) is not None

    async def _begin_main_dialog(self, turn_context: TurnContext, options: dict) -> None:
        dialog_context = await self._dialogs.context(turn_context)
        await dialog_context.cancel_all_dialogs()
        await dialog_context.begin_dialog(self._dialogs.dialog.id, options)


def channel_account(activity: Activity) -> CustomerChannelAccount | None:
    """The sender as a customer channel account; None when the activity names no sender."""
    sender = activity.from_property
    if sender is None or not sender.id or not activity.channel_id:
        return None
    # Channel data is whatever the sender wrote: only a dict with a string id is a tenant.
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant_data = channel_data.get("tenant")
    tenant = tenant_data.get("id") if isinstance(tenant_data, dict) else None
    if not isinstance(tenant, str):
        tenant = getattr(activity.conversation, "tenant_id", None)
    if not isinstance(tenant, str):
        tenant = None
    return CustomerChannelAccount(
        activity.channel_id, sender.id, getattr(sender, "aad_object_id", None), tenant
    )


def _time_zone(activity: Activity) -> str | None:
    """The IANA zone the channel gave, if it is one this machine knows."""
    zone = activity.local_timezone
    if not isinstance(zone, str) or not zone or len(zone) > 64:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone


def _capture_texts(said: list[str]):
    """A send hook that notes the text of each message the bot sends in the turn."""

    async def capture(_: TurnContext, activities: list[Activity], send):
        said.extend(a.text for a in activities if a.type == "message" and a.text)
        return await send()

    return capture


def _roster_email(turn_context: TurnContext) -> EmailLookup:
    """The Teams member's email from the roster, looked up only for an account not yet known."""

    async def lookup() -> str | None:
        try:
            async with asyncio.timeout(ROSTER_LOOKUP_TIMEOUT):
                member = await TeamsInfo.get_member(
                    turn_context, turn_context.activity.from_property.id
                )
        except Exception as error:  # the roster is a nicety: never fail a turn on it
            log.info("Teams roster lookup failed: %s", type(error).__name__)
            return None
        return getattr(member, "email", None)

    return lookup


def utterance(activity: Activity) -> str:
    """What the customer wrote: the text without the bot's @mention, or a card submit's fields."""
    text = activity.text or ""
    if text and activity.entities:
        try:
            text = TurnContext.remove_recipient_mention(activity) or ""
        except (KeyError, TypeError, AttributeError):
            log.debug("mention entity without the expected fields; text kept as sent")
    text = text.strip()
    payload = _messenger_payload(activity)
    if payload:
        # A Messenger quick reply or button: its payload is the full choice, the title may
        # have been shortened to fit.
        text = payload
    if not text and activity.value is not None:
        text = " ".join(_strings(activity.value)).strip()
    return text


def _messenger_payload(activity: Activity) -> str | None:
    if activity.channel_id != "facebook" or not isinstance(activity.channel_data, dict):
        return None
    message = activity.channel_data.get("message")
    quick_reply = message.get("quick_reply") if isinstance(message, dict) else None
    for holder in (activity.channel_data.get("postback"), quick_reply):
        if isinstance(holder, dict) and isinstance(holder.get("payload"), str):
            return holder["payload"].strip() or None
    return None


def _strings(value: object) -> list[str]:
    """The text fields of a card submit, e.g. {"orderNumber": "123456"} -> ["123456"]."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
