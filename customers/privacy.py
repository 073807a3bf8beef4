"""Privacy per channel: what a turn on each channel may store about the customer."""

from __future__ import annotations

from dataclasses import dataclass

from customers.context import IDENTIFIER_AND_TASK_FIELDS, CustomerContext


@dataclass(frozen=True)
class PrivacyPolicy:
    # From these channels only identifiers and task state are kept (RESTRICTED_CHANNELS).
    restricted_channels: frozenset[str] = frozenset()

    def restricts(self, channel: str) -> bool:
        return channel in self.restricted_channels

    def keep_allowed(self, channel: str, before: CustomerContext, after: CustomerContext) -> None:
        """Undoes, in `after`, the changes a turn on `channel` may not store."""
        if not self.restricts(channel):
            return
        for name in CustomerContext.model_fields:
            if name not in IDENTIFIER_AND_TASK_FIELDS:
                setattr(after, name, getattr(before, name))
