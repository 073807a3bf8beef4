"""The customer directory (a company's CRM): who a customer is, by email, phone or CRM id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEMO_CUSTOMERS_FILE = Path(__file__).with_name("demo_customers.json")
# A customer id of this form is a directory customer's: "crm-1001".
CRM_PREFIX = "crm-"


@dataclass(frozen=True)
class DirectoryCustomer:
    crm_id: str
    name: str
    email: str
    phone: str
    order_numbers: tuple[str, ...] = ()
    # Where a technician or an installer would come (offered when booking a home visit).
    address: str | None = None

    @property
    def customer_id(self) -> str:
        return f"{CRM_PREFIX}{self.crm_id}"


class CustomerDirectory(Protocol):
    async def find(
        self, *, email: str | None = None, phone: str | None = None, crm_id: str | None = None
    ) -> DirectoryCustomer | None: ...


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


class DemoCustomerDirectory:
    """The embedded directory: customers from a data file, matching the demo orders."""

    def __init__(self, customers_file: Path = DEMO_CUSTOMERS_FILE) -> None:
        records = json.loads(customers_file.read_text(encoding="utf-8"))["customers"]
        self._customers = [
            DirectoryCustomer(
                r["crmId"],
                r["name"],
                r["email"],
                r["phone"],
                tuple(r["orderNumbers"]),
                r.get("address"),
            )
            for r in records
        ]

    async def find(
        self, *, email: str | None = None, phone: str | None = None, crm_id: str | None = None
    ) -> DirectoryCustomer | None:
        for customer in self._customers:
            if (
                (email and customer.email.lower() == email.strip().lower())
                or (phone and _digits(customer.phone) == _digits(phone))
                or (crm_id and customer.crm_id == crm_id)
            ):
                return customer
        return None
