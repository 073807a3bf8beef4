"""Tickets posted to the company's ticketing system, signed, after the bot has kept them.

POST TICKET_WEBHOOK_URL with the ticket as JSON; the header
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with TICKET_WEBHOOK_SIGNING_KEY>`
lets the receiver check it came from the bot, `Idempotency-Key` (the ticket reference)
lets it ignore a retry it already has. A webhook that fails leaves the ticket in the
bot's own list, marked, and the customer still gets the reference.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from services.resilient_http import ResilientJsonClient, Unavailable
from services.signatures import SIGNATURE_HEADER, signature
from services.tickets import TICKET_TTL, StoredTickets, Ticket, ticket_key
from state.documents import DocumentStore, DocumentWrite, StorageError

log = logging.getLogger(__name__)


class WebhookTickets:
    def __init__(self, documents: DocumentStore, url: str, signing_key: str) -> None:
        self._documents = documents
        self._stored = StoredTickets(documents)
        self._key = signing_key
        # A ticket is not waited on for long: the customer is told the reference anyway.
        self._client = ResilientJsonClient(
            "ticketing system", url, attempt_timeout=2.0, deadline=5.0, max_attempts=3
        )

    async def open(self) -> None:
        await self._client.open()

    async def close(self) -> None:
        await self._client.close()

    async def create(self, ticket: Ticket) -> Ticket:
        await self._stored.create(ticket)
        body = json.dumps(ticket.to_json(), separators=(",", ":")).encode()
        headers = {SIGNATURE_HEADER: signature(body, self._key),
                   "Idempotency-Key": ticket.reference}  # fmt: skip
        try:
            await self._client.call("POST", "", _accepted, body=body, headers=headers)
        except Unavailable as error:
            log.warning("ticket %s kept, but the ticketing system did not take it: %s",
                        ticket.reference, error)  # fmt: skip
            await self._mark_undelivered(ticket)
        return ticket

    async def get(self, reference: str) -> dict[str, Any] | None:
        return await self._stored.get(reference)

    async def _mark_undelivered(self, ticket: Ticket) -> None:
        key = ticket_key(ticket.reference)
        try:
            await self._documents.write(
                {
                    key: DocumentWrite(
                        {**ticket.to_json(), "webhookDelivered": False}, ttl=TICKET_TTL
                    )
                }
            )
        except StorageError as error:
            log.warning("ticket %s could not be marked undelivered: %s", ticket.reference, error)


def _accepted(status: int, _: object) -> None:
    if not 200 <= status < 300:
        raise Unavailable(f"the ticketing system answered {status}")
