"""The customer directory (a company's CRM): who a customer is, by email, phone or CRM id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEMO_CUSTOMERS_FILE = Path(__file__).with_name("demo_customers.json")


@dataclass(frozen=True)
class DirectoryCustomer:
    crm_id: str
    name: str
    email: str
    phone: str
    order_numbers: tuple[str, ...] = ()

    @property
    def customer_id(self) -> str:
        return f"crm-{self.crm_id}"


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
                r["crmId"], r["name"], r["email"], r["phone"], tuple(r["orderNumbers"])
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
