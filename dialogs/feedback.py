"""An answer that closes a task, and the "Was this helpful?" that goes with it.

`send_answer` records the task as completed, sends the answer with the feedback offer,
and notes in the turn which task it was; the bot keeps that in the conversation until
the customer's next message (bots/feedback.py), which answers it or moves on.
"""

from __future__ import annotations

from dataclasses import replace

from botbuilder.core import TurnContext

from analytics.events import EventName, Property
from channels.replies import Reply
from dialogs.reply_activity import send_reply
from dialogs.turn_events import record

# turn_state key: the task whose answer asked "Was this helpful?" in this turn.
FEEDBACK_ASKED = "feedback.asked"


async def send_answer(
    turn_context: TurnContext, task: str, reply: Reply, **props: Property
) -> None:
    record(turn_context, EventName.TASK_COMPLETED, task, **props)
    turn_context.turn_state[FEEDBACK_ASKED] = task
    await send_reply(turn_context, replace(reply, feedback=True))
