"""The analytics report from the command line (`make report`).

    python -m analytics report [--from 2026-11-01] [--to 2026-11-24] [--out FILE]

Reads the events and the messages kept for review from the bot's store, with the
settings `make run` uses (STORAGE and the rest, from the environment or `.env`), and
writes one HTML page (default build/report.html; the last 7 days).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from analytics.event_log import StoredEventLog
from analytics.metrics import report
from analytics.report import render_html
from analytics.web_api import MAX_DAYS
from config import ConfigError, load_settings
from nlu.review import ReviewQueue

DEFAULT_OUT = Path("build/report.html")


async def _write(first: date, last: date, out: Path) -> dict:
    from app import document_store  # the composition root builds the store, as for the bot

    settings = load_settings()
    documents = document_store(settings)
    await documents.open()
    try:
        log = StoredEventLog(
            documents, settings.ANALYTICS_RETENTION_DAYS, lambda: datetime.now(UTC)
        )
        figures = report(await log.read(first, last))
        days = (last - first).days + 1
        now = datetime.combine(last, datetime.min.time(), UTC) + timedelta(hours=23, minutes=59)
        review = await ReviewQueue(documents, frozenset()).recent(now, days)
    finally:
        await documents.close()
    await asyncio.to_thread(_save, out, render_html(figures, review, first, last))
    return figures


def _save(out: Path, page: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analytics", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    page = commands.add_parser("report", help="write the HTML report")
    page.add_argument("--from", dest="first", type=date.fromisoformat)
    page.add_argument("--to", dest="last", type=date.fromisoformat)
    page.add_argument("--out", type=Path, default=DEFAULT_OUT)
    arguments = parser.parse_args(argv)
    last = arguments.last or datetime.now(UTC).date()
    first = arguments.first or last - timedelta(days=6)
    if first > last or (last - first).days + 1 > MAX_DAYS:
        print(f"--from must be on or before --to, at most {MAX_DAYS} days", file=sys.stderr)
        return 2
    try:
        figures = asyncio.run(_write(first, last, arguments.out))
    except ConfigError as error:
        print(f"Cannot read the bot's settings: {error}", file=sys.stderr)
        return 2
    print(f"{arguments.out}: {figures['sessions']} sessions from {first} to {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
