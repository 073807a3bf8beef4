"""A case: one customer's request for a person, from the queue to the return to the bot."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from channels.reference import ConversationRef

SCHEMA_VERSION = 1
# The recent messages shown to the agent.
TRANSCRIPT_LENGTH = 20
# A message in the transcript is cut to this many characters.
TRANSCRIPT_TEXT_LIMIT = 500


class CaseState(StrEnum):
    WAITING = "waiting"
    WITH_AGENT = "withAgent"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"
    TIMED_OUT = "timedOut"
    # The desk could not take the case (a contact center answered `failed`).
    FAILED = "failed"

    @property
    def open(self) -> bool:
        return self in (CaseState.WAITING, CaseState.WITH_AGENT)


class Reason(StrEnum):
    """Why the customer is handed to a person."""

    ASKED = "asked"
    FAILED_TRIES = "failedTries"
    TROUBLESHOOTING_DEAD_END = "troubleshootingDeadEnd"
    FRUSTRATION = "frustration"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TranscriptLine(_Model):
    sender: str  # "customer", "bot" or "agent"
    text: str
    at: datetime


class CaseEvent(_Model):
    """One step of a case, for the analytics: requested (value: position), taken (value:
    seconds waited), reminded, ended / withdrawn / timedOut / failed (value: seconds
    since taken, or waited), solved (value: 1 or 0), ticket."""

    name: str
    at: datetime
    value: float | None = None
    detail: str | None = None


class Agent(_Model):
    id: str
    name: str


class Case(_Model):
    schema_version: int = SCHEMA_VERSION
    id: str
    customer_id: str
    customer_name: str | None = None
    # The customer's name in analytics events (never the customer id).
    analytics_id: str | None = None
    reason: Reason
    state: CaseState = CaseState.WAITING
    desk: str  # "teams" or "protocol"
    customer: ConversationRef
    # The language the bot speaks with the customer ("en", "es", "de", "fr"): what it says
    # about the case (moved up, the agent joined) is said in it.
    language: str | None = None
    requested_at: datetime
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    agent: Agent | None = None
    # What the bot knows, for the agent: plain facts ("Last order": "123456, shipped").
    facts: list[tuple[str, str]] = Field(default_factory=list)
    transcript: list[TranscriptLine] = Field(default_factory=list)
    # Teams desk: the card's thread in the agents' channel.
    desk_thread: ConversationRef | None = None
    desk_card_id: str | None = None
    # The customer's last message (Messenger: agent replies after 24 h need a tag).
    customer_last_message_at: datetime | None = None
    # The last message either way, once taken (a case idle too long is ended).
    last_message_at: datetime | None = None
    # The position the customer was last told, so a move up is told once.
    told_position: int | None = None
    # Agents were reminded that this case is still waiting.
    reminded_at: datetime | None = None
    # After the agent ended it: did it solve the problem (None: not answered).
    solved: bool | None = None
    # Then: how the customer rated the chat, 1 to 5 (None: not rated).
    rating: int | None = None
    events: list[CaseEvent] = Field(default_factory=list)

    def record(self, name: str, at: datetime, value: float | None = None,
               detail: str | None = None) -> None:  # fmt: skip
        self.events.append(CaseEvent(name=name, at=at, value=value, detail=detail))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls.model_validate(data)

    @property
    def wait_seconds(self) -> float | None:
        if self.taken_at is None:
            return None
        return (self.taken_at - self.requested_at).total_seconds()

    @property
    def handling_seconds(self) -> float | None:
        if self.taken_at is None or self.closed_at is None:
            return None
        return (self.closed_at - self.taken_at).total_seconds()
