"""The ports the hand-off core talks through: an agent desk, and the channels' connector."""

from __future__ import annotations

from typing import Any, Protocol

from channels.reference import ConversationRef
from handoff.cases import Case

Json = dict[str, Any]


class DeskUnavailable(Exception):
    """The desk cannot take cases now (not set up, or unreachable)."""


class Outbound(Protocol):
    """Sends activities to a conversation outside its turn (the channel's connector)."""

    async def send(self, to: ConversationRef, activity: Json) -> str:
        """Returns the id the channel gave the activity; ConnectionError when it failed."""
        ...

    async def update(self, to: ConversationRef, activity_id: str, activity: Json) -> None: ...


class AgentDesk(Protocol):
    """Where agents see and take cases. The core calls it; a desk never changes a case."""

    name: str

    async def ready(self) -> bool:
        """Whether cases can be posted at all (the agents' channel is set up)."""
        ...

    def answers_on(self, case: Case) -> ConversationRef | None:
        """Where the desk's answers about `case` will arrive, when that is known before the
        case is shown (a contact center answers on the customer's own conversation)."""
        ...

    async def open_case(self, case: Case, position: int) -> Case:
        """Shows a new waiting case to the agents; returns it with where the desk put it.
        DeskUnavailable when it cannot."""
        ...

    async def case_changed(self, case: Case) -> None:
        """The case was taken, ended, withdrawn or timed out: the agents see it."""
        ...

    async def customer_said(self, case: Case, text: str) -> None: ...

    async def customer_typing(self, case: Case) -> None: ...

    async def remind(self, case: Case, waited_minutes: int) -> None:
        """The case has waited longer than it should: tell the agents."""
        ...
