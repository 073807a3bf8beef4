"""Unit ring: the message catalogs are complete, and a gap in one is found."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po, write_po

from channels import replies
from channels.text import _, _n, catalog, known, localize
from tools import catalogs

LANGUAGES = ("de", "es", "fr")
FRIDAY = datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("Europe/London"))


def test_every_catalog_is_complete() -> None:
    """Every message the bot says is translated in every language, none is left over, and
    every translation fills in the same {placeholders}."""
    assert catalogs.problems() == []
    assert catalogs.languages() == LANGUAGES


def copy_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copied = tmp_path / "locale"
    shutil.copytree(catalogs.LOCALE_DIR, copied)
    monkeypatch.setattr(catalogs, "TEMPLATE", copied / "messages.pot")
    monkeypatch.setattr(
        catalogs, "catalog_path", lambda lang: copied / lang / "LC_MESSAGES" / "messages.po"
    )
    return copied


def edit(path: Path, change) -> None:
    with path.open("rb") as file:
        messages = read_po(file)
    change(messages)
    with path.open("wb") as file:
        write_po(file, messages)


def test_a_missing_message_a_stale_one_and_a_broken_placeholder_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied = copy_catalogs(tmp_path, monkeypatch)
    spanish = copied / "es" / "LC_MESSAGES" / "messages.po"

    def change(messages) -> None:
        messages.delete("Keep it")
        messages.add("A message the bot no longer says", "Un mensaje que ya no se dice")
        messages["Is this about order {order}?"].string = "¿Es sobre el pedido {pedido}?"

    edit(spanish, change)
    assert sorted(catalogs.problems()) == [
        "es: missing 'Keep it'",
        "es: no longer used 'A message the bot no longer says'",
        "es: placeholders differ in 'Is this about order {order}?'",
    ]


def test_an_untranslated_message_and_a_stale_template_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied = copy_catalogs(tmp_path, monkeypatch)
    edit(copied / "de" / "LC_MESSAGES" / "messages.po", lambda m: setattr(m["Skip"], "string", ""))
    edit(copied / "messages.pot", lambda m: m.delete("Skip"))
    found = catalogs.problems()
    assert "de: not translated 'Skip'" in found
    assert any("stale" in problem for problem in found)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Fri 27 Nov, 3:00 PM"),
        ("es", "vie. 27 nov., 15:00"),
        ("de", "Fr., 27. Nov., 15:00"),
        ("fr", "ven. 27 nov., 15h00"),
    ],
)
def test_dates_are_written_as_each_language_writes_them(language: str, expected: str) -> None:
    assert localize(replies.describe_start(FRIDAY, FRIDAY), language) == expected


def test_plural_forms_follow_the_language() -> None:
    one, three = _n("a minute", "{count} minutes", 1), _n("a minute", "{count} minutes", 3)
    assert (str(one), str(three)) == ("a minute", "3 minutes")
    assert localize(one, "de") == "eine Minute"
    assert localize(three, "de") == "3 Minuten"
    # French counts 0 and 1 as singular.
    assert catalog("fr").ngettext("a minute", "{count} minutes", 0) == "une minute"


def test_a_word_from_another_system_passes_through() -> None:
    """An order status the catalog does not know is shown as the order system gives it."""
    assert localize(known("held at customs"), "es") == "held at customs"
    assert localize(known("shipped"), "es") == "enviado"


def test_a_message_is_its_english_until_rendered() -> None:
    message = _("Is this about order {order}?", order="123456")
    assert message == "Is this about order 123456?"
    assert localize(message, "fr") == "S'agit-il de la commande 123456\u00a0?"
    assert localize(message, "xx") == "Is this about order 123456?"


@pytest.mark.parametrize(
    ("said", "picked"),
    [
        ("Sí", "Yes"),
        ("si", "Yes"),
        ("¡SÍ!", "Yes"),
        ("No!", "No"),
        # The choice itself, in any case, is kept as typed (the dialogs ignore case).
        ("no", "no"),
        ("yes", "yes"),
        ("sí, claro", "sí, claro"),
    ],
)
def test_a_choice_tapped_or_typed_in_the_language_is_the_choice(said: str, picked: str) -> None:
    shown = [localize(choice, "es") for choice in replies.YES_NO]
    assert replies.picked_choice(said, list(replies.YES_NO), shown) == picked
