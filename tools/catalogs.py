"""The bot's message catalogs: extract every message, update each language, check them.

    python -m tools.catalogs            # extract, then update every language's .po
    python -m tools.catalogs --check    # what is missing, left over or broken (exit 1 if any)
    python -m tools.catalogs --add xx   # start a catalog for a new language

Messages come from three places: the code (`_("...")` and `_n("...", "...", n)`, found by
Babel's Python extractor), the troubleshooting guides (their titles, steps, answers and
ends) and the demo systems' words (order statuses, kinds of appointment). A message a
catalog lacks shows in English; `--check` (and tests/unit/test_catalogs.py) refuses it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from channels.text import LOCALE_DIR, catalog_path, languages, placeholders
from troubleshooting.guides import GUIDES_DIR, load_guides

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = LOCALE_DIR / "messages.pot"
# The packages whose code speaks to customers.
SOURCES = ("bots", "channels", "dialogs", "handoff", "notifications", "troubleshooting")
KEYWORDS = {"_": None, "_n": (1, 2)}
COMMENT_TAGS = ("TRANSLATORS:",)
DEMO_ORDERS = ROOT / "services" / "demo_orders.json"
DEMO_SCHEDULE = ROOT / "services" / "demo_schedule.json"

Message = tuple[str | tuple[str, str], str, list[str]]  # id, where, translators' comments


def template() -> Catalog:
    """Every message the bot can say, as a fresh template."""
    messages = Catalog(project="customer-service-bot", fuzzy=False)
    for message, where, comments in _messages():
        location = [(where, None)] if where else []
        existing = messages.get(message[0] if isinstance(message, tuple) else message)
        if existing is not None:
            existing.locations.extend(x for x in location if x not in existing.locations)
            continue
        messages.add(message, locations=location, auto_comments=comments)
    return messages


def _messages() -> Iterator[Message]:
    for package in SOURCES:
        for file, line, message, comments, _context in extract_from_dir(
            ROOT / package,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        ):
            yield message, f"{package}/{file}:{line}", comments
    for guide in load_guides(GUIDES_DIR).values():
        where = f"troubleshooting/guides/{guide.device}.yml"
        yield guide.title, where, ["A troubleshooting guide's title."]
        for step in guide.steps.values():
            yield step.say, where, [f"Step {step.id!r}: what to do."]
            yield step.question, where, [f"Step {step.id!r}: the question after it."]
            for answer in step.answers:
                yield answer, where, ["An answer to the step's question (a button)."]
        for end, text in guide.ends.items():
            yield text, where, [f"The guide's end {end!r}."]
    orders = json.loads(DEMO_ORDERS.read_text(encoding="utf-8"))["orders"]
    for status in sorted({order["status"] for order in orders}):
        yield status, "services/demo_orders.json", ['An order status: "Your order is {status}."']
    schedule = json.loads(DEMO_SCHEDULE.read_text(encoding="utf-8"))
    for kind in schedule["kinds"].values():
        yield kind["label"], "services/demo_schedule.json", ["A kind of appointment."]


def update() -> None:
    """Writes the template and brings every language's catalog up to it (new messages
    untranslated, messages the bot no longer says removed)."""
    fresh = template()
    _write(TEMPLATE, fresh)
    for language in languages():
        path = catalog_path(language)
        translated = _read(path, language)
        translated.update(fresh, no_fuzzy_matching=True)
        translated.obsolete.clear()
        _write(path, translated)


def add(language: str) -> Path:
    path = catalog_path(language)
    if path.exists():
        raise SystemExit(f"{path} exists already")
    path.parent.mkdir(parents=True)
    new = Catalog(locale=language, project="customer-service-bot", fuzzy=False)
    new.update(template(), no_fuzzy_matching=True)
    _write(path, new)
    return path


def problems() -> list[str]:
    """What stops a catalog from being complete: a message missing or untranslated, one
    the bot no longer says, a translation whose {placeholders} differ, a stale template."""
    fresh = template()
    found = []
    if not TEMPLATE.exists() or _ids(_read(TEMPLATE, None)) != _ids(fresh):
        found.append(f"{TEMPLATE.name} is stale: run python -m tools.catalogs")
    for language in languages():
        translated = _read(catalog_path(language), language)
        for message in fresh:
            if not message.id:
                continue
            have = translated.get(message.id)
            name = _name(message.id)
            if have is None:
                found.append(f"{language}: missing {name}")
            elif have.fuzzy or not all(_forms(have.string)):
                found.append(f"{language}: not translated {name}")
            elif not _same_placeholders(message.id, have.string):
                found.append(f"{language}: placeholders differ in {name}")
        for message in translated:
            if message.id and fresh.get(message.id) is None:
                found.append(f"{language}: no longer used {_name(message.id)}")
        found += [f"{language}: no longer used {_name(m)}" for m in translated.obsolete]
    return found


def _same_placeholders(message_id: str | tuple, string: str | tuple) -> bool:
    """Every form fills in what the message does; a plural's singular may leave out the
    number ("a minute" for "{count} minutes")."""
    wanted = placeholders(_name(message_id, plain=True))
    forms = [placeholders(form) for form in _forms(string)]
    if isinstance(message_id, tuple):
        return forms[-1] == wanted and all(form <= wanted for form in forms)
    return forms == [wanted]


def _ids(messages: Catalog) -> set:
    return {message.id for message in messages if message.id}


def _forms(string: str | tuple) -> tuple[str, ...]:
    return string if isinstance(string, tuple) else (string,)


def _name(message_id: str | tuple, *, plain: bool = False) -> str:
    text = message_id[-1] if isinstance(message_id, tuple) else message_id
    return text if plain else repr(text[:60])


def _read(path: Path, language: str | None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=language)


def _write(path: Path, messages: Catalog) -> None:
    buffer = io.BytesIO()
    # Files, not lines: a catalog changes when a message does, not when code moves.
    write_po(buffer, messages, width=96, sort_output=False, include_lineno=False)
    text = buffer.getvalue().decode("utf-8")
    # The header's dates change on every run; the catalogs' history is in git.
    lines = [line for line in text.splitlines() if not line.startswith('"POT-Creation-Date')]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.catalogs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report what is missing")
    parser.add_argument("--add", metavar="LANGUAGE", help="start a catalog for a language")
    args = parser.parse_args(argv)
    if args.add:
        print(f"wrote {add(args.add)}")
        return 0
    if args.check:
        found = problems()
        print("\n".join(found) or "every catalog is complete")
        return 1 if found else 0
    update()
    print(f"wrote {TEMPLATE.relative_to(ROOT)} and {', '.join(languages()) or 'no'} catalogs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
