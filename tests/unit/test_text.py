"""Messages in the customer's language: plurals, numbers, copies, capitals."""

from __future__ import annotations

import copy
import pickle

from channels.text import _, _n, languages, localize, placeholders


def test_a_count_picks_the_form_and_is_written_as_the_language_writes_numbers() -> None:
    def wait(count: int) -> object:
        return _n("a minute", "{count} minutes", count)

    assert [str(wait(n)) for n in (1, 3)] == ["a minute", "3 minutes"]
    assert [localize(wait(n), "de") for n in (1, 3, 1200)] == [
        "eine Minute", "3 Minuten", "1.200 Minuten",
    ]  # fmt: skip
    assert localize(wait(1200), "en") == "1,200 minutes"


def test_a_copied_or_stored_message_keeps_every_language() -> None:
    # Dialog state is copied and pickled by botbuilder; the message must still translate.
    assert localize(copy.deepcopy(_("Help")), "es") == "Ayuda"
    assert localize(pickle.loads(pickle.dumps(_("Help"))), "fr") == "Aide"
    repair = pickle.loads(pickle.dumps(_("in-store repair").capitalized()))
    assert (str(repair), localize(repair, "es")) == ("In-store repair", "Reparación en tienda")
    # A plural with its count and arguments keeps them all through a copy.
    waited = _n("a minute", "{count} minutes", 1200)
    for copied in (copy.deepcopy(waited), pickle.loads(pickle.dumps(waited))):
        assert (copied.msgid, copied.plural, copied.count, copied.args) == (
            "a minute", "{count} minutes", 1200, {"count": 1200})  # fmt: skip
        assert localize(copied, "de") == "1.200 Minuten"
    moved = pickle.loads(pickle.dumps(_("You've moved up: you're now number {position} in the "
                                        "queue.", position=3)))  # fmt: skip
    assert moved.args == {"position": 3} and "3" in localize(moved, "fr")


def test_the_languages_with_a_catalog_and_a_messages_placeholders() -> None:
    assert languages() == ("de", "es", "fr")
    assert placeholders("{count} minutes at {time}, {count} again") == {"count", "time"}
    assert placeholders("no placeholders") == set()
