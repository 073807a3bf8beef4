"""Replies, rendered for the turn's channel, as Bot Framework activities."""

from __future__ import annotations

import copy

from botbuilder.core import TurnContext
from botbuilder.dialogs.choices import ListStyle
from botbuilder.dialogs.prompts import ConfirmPrompt, PromptOptions
from botbuilder.schema import Activity

from channels.reference import ConversationRef
from channels.render import render, shown_choices
from channels.replies import Reply
from channels.text import localize
from state.wire import from_json

# turn_state key: the choices the last reply of this turn offered ("2" picks the second).
OFFERED_CHOICES = "offeredChoices"
# turn_state key: the same choices as the customer saw them, in the turn's language.
SHOWN_CHOICES = "shownChoices"
# turn_state key: the language chosen for this turn ("en", "es", "de" or "fr").
LANGUAGE = "language"
# turn_state key: the language the message is understood in when it differs (a message
# translated from Italian is understood in Spanish, and answered in English, translated).
UNDERSTOOD_IN = "understoodIn"
# turn_state key: a translated message as the agents read it ("original [English: ...]").
FOR_AGENT = "forAgent"
# turn_state key: the message is one of the choices the bot's last reply offered, so it
# answers that question ("Keep it" is not a request to cancel).
PICKED_CHOICE = "pickedChoice"


class ReplyActivity(Activity):
    """A reply made for one send. TurnContext.send_activities deep-copies every activity
    it sends (a tenth of a turn's CPU) to protect one a caller might reuse; a reply is built
    for its send, and what sending changes (addressing, id, input hint) is set on the copy,
    so a shallow copy protects it as well. Stored in dialog state as a plain Activity."""

    def __deepcopy__(self, memo: dict) -> ReplyActivity:
        return copy.copy(self)


def reply_activities(turn_context: TurnContext, reply: Reply) -> list[Activity]:
    incoming = turn_context.activity
    language = turn_context.turn_state.get(LANGUAGE)
    offered = shown_choices(reply, incoming.channel_id)
    turn_context.turn_state[OFFERED_CHOICES] = list(offered)
    turn_context.turn_state[SHOWN_CHOICES] = [localize(choice, language) for choice in offered]
    conversation_type = getattr(incoming.conversation, "conversation_type", None)
    return [
        from_json(ReplyActivity, message)
        for message in render(reply, incoming.channel_id, conversation_type, language=language)
    ]


def understanding_language(turn_context: TurnContext) -> str:
    state = turn_context.turn_state
    return state.get(UNDERSTOOD_IN) or state.get(LANGUAGE) or "en"


async def send_reply(turn_context: TurnContext, reply: Reply) -> None:
    await turn_context.send_activities(reply_activities(turn_context, reply))


def prompt_options(
    turn_context: TurnContext, reply: Reply, retry: Reply | None = None
) -> PromptOptions:
    return PromptOptions(
        prompt=_one_activity(turn_context, reply),
        retry_prompt=_one_activity(turn_context, retry) if retry else None,
    )


def choice_options(turn_context: TurnContext, reply: Reply) -> PromptOptions:
    """A prompt offering the reply's choices, asked again as it is when the answer is not
    one of them (the prompt's validator reads them from `validations`)."""
    options = prompt_options(turn_context, reply, reply)
    options.validations = list(reply.choices)
    return options


def confirm_prompt(dialog_id: str, validator=None) -> ConfirmPrompt:
    """A yes/no prompt whose choices our renderers show (not botbuilder's own)."""
    prompt = ConfirmPrompt(dialog_id, validator, default_locale="en-us")
    prompt.style = ListStyle.none
    return prompt


def _one_activity(turn_context: TurnContext, reply: Reply) -> Activity:
    # A prompt is a single activity; prompts are short, so no channel needs to split one.
    activities = reply_activities(turn_context, reply)
    if len(activities) == 1:
        return activities[0]
    last = activities[-1]
    last.text = " ".join(a.text for a in activities if a.text)
    return last


def conversation_ref(activity: Activity) -> ConversationRef:
    """Where to write to the activity's conversation later (outside a turn)."""
    conversation = activity.conversation
    sender, bot = activity.from_property, activity.recipient
    return ConversationRef(
        channel_id=activity.channel_id,
        service_url=activity.service_url,
        conversation_id=conversation.id,
        user_id=getattr(sender, "id", None),
        user_name=getattr(sender, "name", None),
        bot_id=getattr(bot, "id", None),
        bot_name=getattr(bot, "name", None),
        conversation_type=getattr(conversation, "conversation_type", None),
        tenant_id=getattr(conversation, "tenant_id", None) or _teams_tenant(activity),
        locale=activity.locale,
    )


def _teams_tenant(activity: Activity) -> str | None:
    """Teams names the tenant in channelData (and as conversation.tenantId, which botbuilder's
    schema reads under another spelling and loses)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    value = tenant.get("id") if isinstance(tenant, dict) else None
    return value if isinstance(value, str) else None
