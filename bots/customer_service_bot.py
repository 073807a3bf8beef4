"""The ActivityHandler: the edge between a channel's activities and the dialogs."""

from __future__ import annotations

import logging

from botbuilder.core import ActivityHandler, ConversationState, TurnContext
from botbuilder.dialogs import Dialog, DialogExtensions
from botbuilder.schema import Activity, ChannelAccount

from channels.replies import NO_TEXT, WELCOME
from dialogs.reply_activity import reply_activity
from state.customer_context import CustomerContextAccessor
from state.documents import EtagConflict
from state.turn_state import TurnState

log = logging.getLogger(__name__)


class CustomerServiceBot(ActivityHandler):
    def __init__(
        self,
        turn_state: TurnState,
        conversation_state: ConversationState,
        customer_contexts: CustomerContextAccessor,
        dialog: Dialog,
    ) -> None:
        self._turn_state = turn_state
        self._customer_contexts = customer_contexts
        self._dialog = dialog
        self._dialog_state = conversation_state.create_property("DialogState")

    async def on_turn(self, turn_context: TurnContext) -> None:
        async with self._turn_state.exclusive(turn_context):
            if not await self._turn_state.claim(turn_context):
                log.info("activity %s delivered again: already processed", turn_context.activity.id)
                return
            await self._turn_state.load(turn_context)
            await super().on_turn(turn_context)
            # Saved only when the turn succeeded: a failed turn's half-made changes are dropped.
            try:
                await self._turn_state.save(turn_context, rebase=turn_context.responded)
            except EtagConflict:
                # Another process changed this state and nothing was sent yet: run the
                # turn again on the fresh state rather than patching its outcome.
                await self._turn_state.load(turn_context)
                await super().on_turn(turn_context)
                await self._turn_state.save(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        for member in members_added:
            if member.id != bot_id:
                await turn_context.send_activity(reply_activity(WELCOME))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = utterance(turn_context.activity)
        if not text:
            # An attachment, a sticker, an empty card submit: nothing to understand.
            await turn_context.send_activity(reply_activity(NO_TEXT))
            return
        turn_context.activity.text = text
        await self._customer_contexts.update(turn_context, lambda c: c.count_message())
        await DialogExtensions.run_dialog(self._dialog, turn_context, self._dialog_state)


def utterance(activity: Activity) -> str:
    """What the customer wrote: the text without the bot's @mention, or a card submit's fields."""
    text = activity.text or ""
    if text and activity.entities:
        try:
            text = TurnContext.remove_recipient_mention(activity) or ""
        except (KeyError, TypeError, AttributeError):
            log.debug("mention entity without the expected fields; text kept as sent")
    text = text.strip()
    if not text and activity.value is not None:
        text = " ".join(_strings(activity.value)).strip()
    return text


def _strings(value: object) -> list[str]:
    """The text fields of a card submit, e.g. {"orderNumber": "123456"} -> ["123456"]."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
