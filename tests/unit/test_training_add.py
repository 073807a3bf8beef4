"""`python -m nlu add`: a message learned from, added where a person would add it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlu.__main__ import main
from nlu.training import (
    DATA_DIR,
    TrainingDataError,
    add_example,
    held_out_file,
    intents_file,
    load_labelled,
    load_training,
)


@pytest.fixture(autouse=True)
def training_data_untouched() -> Iterator[None]:
    """Every test here writes to a copy: one that writes to the bot's own data fails, and
    the data is put back, so the tests after it (a mutation run's too) read it as it was."""
    before = {path: path.read_bytes() for path in DATA_DIR.rglob("*") if path.is_file()}
    yield
    changed = [path for path, data in before.items() if path.read_bytes() != data]
    for path in changed:
        path.write_bytes(before[path])
    assert not changed, f"written to the bot's training data: {changed}"


@pytest.fixture
def intents(tmp_path: Path) -> Path:
    copy = tmp_path / "intents.yml"
    shutil.copy(intents_file("en"), copy)
    return copy


def test_an_example_goes_at_the_end_of_its_intent_and_the_file_keeps_its_comments(
    intents: Path,
) -> None:
    before = intents.read_text()
    add_example("orderStatus", "  where's my   stuff at, it's been ages  ", path=intents)
    after = intents.read_text()
    assert after.startswith(before.split("\n", 1)[0])  # the header comment stays
    data = load_training(path=intents)
    added = [e for e in data.examples if e.text == "where's my stuff at, it's been ages"]
    assert [e.intent for e in added] == ["orderStatus"]
    assert len(data.examples) == len(load_training().examples) + 1


@pytest.mark.parametrize(
    ("intent", "text", "why"),
    [
        ("orderStatus", "where is my order", "already an example"),
        ("teleport", "beam me up", "no intent"),
        ("orderStatus", "   ", "empty"),
    ],
)
def test_what_cannot_be_added_is_refused_and_nothing_changes(
    intents: Path, intent: str, text: str, why: str
) -> None:
    before = intents.read_text()
    with pytest.raises(TrainingDataError, match=why):
        add_example(intent, text, path=intents)
    assert intents.read_text() == before


def test_a_held_out_message_is_never_copied_into_training(intents: Path) -> None:
    held_out = load_labelled(held_out_file("en"))[0]
    with pytest.raises(TrainingDataError, match="held-out"):
        add_example(held_out.intent, held_out.text, path=intents)


def test_the_command_says_where_and_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", "--intent", "teleport", "beam me up"]) == 2
    assert "no intent 'teleport'" in capsys.readouterr().err
