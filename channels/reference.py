"""Where to reach a conversation outside a turn: a conversation reference, as plain data.

Kept in the store (with a hand-off case, with the customer for updates), never in memory,
so that any instance can write to the conversation after a restart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConversationRef(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    channel_id: str
    service_url: str
    conversation_id: str
    user_id: str | None = None
    user_name: str | None = None
    bot_id: str | None = None
    bot_name: str | None = None
    conversation_type: str | None = None
    tenant_id: str | None = None
    locale: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ChannelRefused(ConnectionError):
    """The channel's connector answered with an error: `status` says whether trying again
    can help (5xx, 429 after `retry_after` seconds) or not (403: the customer blocked the
    bot or removed the app; 404: the conversation is gone)."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"the channel answered {status}")
        self.status = status
        self.retry_after = retry_after

    @property
    def final(self) -> bool:
        """This conversation cannot be written to again."""
        return self.status in (403, 404)
