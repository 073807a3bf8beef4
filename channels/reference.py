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
