"""The ActivityHandler: the edge between a channel's activities and the dialogs."""

from __future__ import annotations

import logging

from botbuilder.core import ActivityHandler, ConversationState, TurnContext, UserState
from botbuilder.dialogs import Dialog, DialogExtensions
from botbuilder.schema import Activity, ChannelAccount

from channels.replies import NO_TEXT, WELCOME
from dialogs.reply_activity import reply_activity

log = logging.getLogger(__name__)


class CustomerServiceBot(ActivityHandler):
    def __init__(
        self, conversation_state: ConversationState, user_state: UserState, dialog: Dialog
    ) -> None:
        self._conversation_state = conversation_state
        self._user_state = user_state
        self._dialog = dialog
        self._dialog_state = conversation_state.create_property("DialogState")

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        # Saved only when the turn succeeded: a failed turn's half-made changes are dropped.
        await self._conversation_state.save_changes(turn_context)
        await self._user_state.save_changes(turn_context)

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
