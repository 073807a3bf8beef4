"""A channel-neutral Reply as a Bot Framework message activity."""

from __future__ import annotations

from botbuilder.core import MessageFactory
from botbuilder.schema import ActionTypes, Activity, CardAction

from channels.replies import Reply


def reply_activity(reply: Reply) -> Activity:
    if not reply.choices:
        return MessageFactory.text(reply.text)
    actions = [CardAction(type=ActionTypes.im_back, title=c, value=c) for c in reply.choices]
    return MessageFactory.suggested_actions(actions, reply.text)
