"""The bot's words in the customer's language: messages of gettext catalogs, read with Babel.

A `Text` is one message of the catalog and its arguments. It *is* its English text (a
`str`), so dialogs compare and tests read it as before; `localize` renders it in a
language at the edge, where the turn's language is known. Arguments are rendered in the
same language: a `Text` is translated, a `Moment` is formatted with the language's own
pattern (itself a message), a number with the language's separators, a plain `str` (an
order number, a store's name, what an agent typed) is passed through.

    channels/locale/messages.pot                      every message, extracted from the code,
    channels/locale/<language>/LC_MESSAGES/messages.po    the troubleshooting guides and the
                                                          demo data (python -m tools.catalogs)

Plain Python: no botbuilder here.
"""

from __future__ import annotations

import functools
import io
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"


class Text(str):
    """A message of the catalog: its English text, and what it takes to render it in
    another language."""

    msgid: str
    plural: str | None
    count: int | None
    args: dict[str, object]
    capital: bool

    def __new__(
        cls,
        msgid: str,
        plural: str | None = None,
        count: int | None = None,
        args: dict[str, object] | None = None,
        *,
        capital: bool = False,
    ) -> Text:
        args = args or {}
        self = super().__new__(cls, _render(msgid, plural, count, args, capital, SOURCE_LANGUAGE))
        self.msgid, self.plural, self.count, self.args, self.capital = (
            msgid,
            plural,
            count,
            args,
            capital,
        )
        return self

    def __reduce__(self):  # copies and pickles keep the message, not only its English
        return (_rebuild, (self.msgid, self.plural, self.count, self.args, self.capital))

    def capitalized(self) -> Text:
        """The message with its first letter a capital, in every language ("In-store repair")."""
        return Text(self.msgid, self.plural, self.count, self.args, capital=True)


def _rebuild(msgid, plural, count, args, capital) -> Text:
    return Text(msgid, plural, count, args, capital=capital)


def _(msgid: str, /, **args: object) -> Text:
    """A message of the catalog (`python -m tools.catalogs` finds every call)."""
    return Text(msgid, args=args)


def _n(singular: str, plural: str, count: int, /, **args: object) -> Text:
    """A message whose form depends on a number, given to it as {count}."""
    return Text(singular, plural, count, {"count": count, **args})


def known(value: str) -> Text:
    """A word from a system the bot talks to (an order status, a kind of appointment, a
    guide's step): translated when the catalog has it, otherwise passed through as given."""
    return Text(value)


@dataclass(frozen=True)
class Moment:
    """A date or time, written with a pattern of the catalog (Unicode LDML: "EEE d MMM")."""

    at: datetime
    pattern: Text

    def render(self, language: str) -> str:
        return format_datetime(self.at, localize(self.pattern, language), locale=language)


def date_text(at: datetime, pattern: Text) -> Text:
    """A date or time on its own, as a message ("Fri 27 Nov, 2:30 PM")."""
    return Text("{at}", args={"at": Moment(at, pattern)})


def localize(value: object, language: str | None) -> str:
    """`value` in `language` (a code the bot speaks; anything else is English)."""
    language = language or SOURCE_LANGUAGE
    if isinstance(value, Text):
        return _render(value.msgid, value.plural, value.count, value.args, value.capital, language)
    return _argument(value, language)


def _render(
    msgid: str,
    plural: str | None,
    count: int | None,
    args: dict[str, object],
    capital: bool,
    language: str,
) -> str:
    translations = catalog(language)
    if plural is None:
        template = translations.gettext(msgid)
    else:
        template = translations.ngettext(msgid, plural, count or 0)
    if args:
        template = template.format_map({name: _argument(v, language) for name, v in args.items()})
    return template[:1].upper() + template[1:] if capital else template


def _argument(value: object, language: str) -> str:
    if isinstance(value, Text):
        return localize(value, language)
    if isinstance(value, Moment):
        return value.render(language)
    if isinstance(value, int) and not isinstance(value, bool):
        return format_decimal(value, locale=language)
    return str(value)


def placeholders(message: str) -> set[str]:
    """The names a message fills in ("{count} minutes" -> {"count"})."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """The languages with a catalog, besides English (the messages' own language)."""
    return tuple(
        sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    )


@functools.cache
def catalog(language: str) -> NullTranslations:
    """The language's translations, compiled once from its .po file (fuzzy entries left out,
    so a message not yet checked by a speaker shows in English)."""
    path = catalog_path(language)
    if language == SOURCE_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as file:
        messages = read_po(file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
