"""Conversation events: what happened, when, on which channel, for which (pseudonymous)
customer and conversation, in which task. Never a message's words."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Property = str | float | int | bool | None


def conversation_pseudonym(channel_id: str, conversation_id: str) -> str:
    """A conversation's name in analytics: a hash, so no channel's ids are kept."""
    return hashlib.sha256(f"{channel_id}/{conversation_id}".encode()).hexdigest()[:24]


class EventName(StrEnum):
    SESSION_STARTED = "sessionStarted"
    INTENT_RECOGNIZED = "intentRecognized"
    NOT_UNDERSTOOD = "notUnderstood"
    # "That's not what I meant" right after an answer: the previous message was missed.
    MISUNDERSTOOD = "misunderstood"
    TASK_STARTED = "taskStarted"
    # A step of a task's dialog was reached: props {"step": "when"}. Not recorded: a task
    # left unfinished (abandoned), which the metrics infer (metrics.py).
    TASK_STEP = "taskStep"
    TASK_COMPLETED = "taskCompleted"
    TASK_CANCELLED = "taskCancelled"
    HANDOFF_REQUESTED = "handoffRequested"
    HANDOFF_TAKEN = "handoffTaken"
    HANDOFF_ENDED = "handoffEnded"
    HANDOFF_TIMED_OUT = "handoffTimedOut"
    HANDOFF_WITHDRAWN = "handoffWithdrawn"
    TICKET_CREATED = "ticketCreated"
    # "Was this helpful?": props {"helpful": true | false}
    FEEDBACK = "feedback"
    # After a hand-off: props {"score": 1..5}
    SATISFACTION = "satisfaction"
    # The customer sounded upset and was offered a person: props {"score": the message's}
    FRUSTRATION = "frustrationNoticed"


@dataclass(frozen=True)
class ConversationEvent:
    name: EventName
    at: datetime
    channel: str
    customer: str  # pseudonymous: never the customer id itself
    conversation: str  # pseudonymous
    task: str | None = None
    props: dict[str, Property] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name.value, "at": self.at.isoformat(), "channel": self.channel,
            "customer": self.customer, "conversation": self.conversation,
        }  # fmt: skip
        if self.task:
            data["task"] = self.task
        if self.props:
            data["props"] = dict(self.props)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationEvent:
        return cls(
            EventName(data["name"]), datetime.fromisoformat(data["at"]), str(data["channel"]),
            str(data["customer"]), str(data["conversation"]), data.get("task"),
            dict(data.get("props") or {}),
        )  # fmt: skip
