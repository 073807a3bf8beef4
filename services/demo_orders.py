"""The embedded order system: demo orders from a data file, used when ORDER_API_URL is unset."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from services.orders import Order, OrderNotFound

DEMO_ORDERS_FILE = Path(__file__).with_name("demo_orders.json")


class DemoOrderService:
    def __init__(
        self,
        clock: Callable[[], datetime],
        orders_file: Path = DEMO_ORDERS_FILE,
    ) -> None:
        # Read once at start: a turn never waits on the disk.
        self._records = {
            record["orderNumber"]: record
            for record in json.loads(orders_file.read_text(encoding="utf-8"))["orders"]
        }
        self._clock = clock

    async def get_order(self, order_number: str) -> Order:
        record = self._records.get(order_number)
        if record is None:
            raise OrderNotFound(order_number)
        return Order(
            order_number,
            record["status"],
            self._eta(record["eta"]),
            record.get("email"),
            record.get("postcode"),
        )

    def _eta(self, eta: dict | None) -> datetime | None:
        if eta is None:
            return None
        now = self._clock()
        next_full_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return next_full_hour + timedelta(hours=eta["hoursFromNow"] - 1)
