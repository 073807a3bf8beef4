"""Tickets: what a customer leaves for the team when nobody can take the conversation.

The contract, and the embedded ticket list every bot keeps in its store; with
TICKET_WEBHOOK_URL each new ticket is also posted, signed, to the company's
ticketing system (services/webhook_tickets.py).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from state.documents import DocumentStore, DocumentWrite

log = logging.getLogger(__name__)

# Never digits only (not an order number); no 0/O or 1/I.
_REFERENCE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFERENCE_PREFIX = "TK-"
TICKET_PREFIX = "tickets/"
MAX_NOTE_CHARS = 1000
# Tickets are the ticketing system's to keep; the bot's copy is forgotten after this.
TICKET_TTL = 180 * 24 * 3600


@dataclass(frozen=True)
class Ticket:
    reference: str
    customer_id: str
    channel: str
    contact: str
    note: str
    reason: str  # why the customer wanted a person (handoff.cases.Reason)
    why_no_person: str  # closed, noDesk, timedOut, failed, notSolved
    created_at: datetime
    case_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "customerId": self.customer_id,
            "channel": self.channel, "contact": self.contact, "note": self.note,
            "reason": self.reason, "whyNoPerson": self.why_no_person,
            "createdAt": self.created_at.isoformat(), "caseId": self.case_id,
        }  # fmt: skip


class TicketService(Protocol):
    async def create(self, ticket: Ticket) -> Ticket:
        """Keeps the ticket; StorageError when it could not be kept."""
        ...

    async def get(self, reference: str) -> dict[str, Any] | None:
        """The ticket as kept in the bot's store."""
        ...


def ticket_key(reference: str) -> str:
    return f"{TICKET_PREFIX}{reference}"


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(_REFERENCE_LETTERS) for _ in range(6))


class StoredTickets:
    """The embedded ticket list: one document per ticket in the bot's store."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def create(self, ticket: Ticket) -> Ticket:
        await self._documents.write({
            ticket_key(ticket.reference): DocumentWrite(
                ticket.to_json(), create_only=True, ttl=TICKET_TTL
            )
        })  # fmt: skip
        log.info("ticket %s created (%s)", ticket.reference, ticket.why_no_person)
        return ticket

    async def get(self, reference: str) -> dict[str, Any] | None:
        key = ticket_key(reference)
        stored = (await self._documents.read([key])).get(key)
        return stored.data if stored else None
