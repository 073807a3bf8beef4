"""Messages the bot did not understand are kept, masked, for `python -m nlu review`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from channels import replies
from tests.conftest import ROOT, everything_stored, make_settings, serve_bot_parts, texts
from tools.local_channel import LocalChannel


def nlu_review(data: Path) -> subprocess.CompletedProcess[str]:
    """`python -m nlu review` on the bot's SQLite state in `data`."""
    return subprocess.run(
        [sys.executable, "-m", "nlu", "review", "--json"],
        cwd=data.parent,
        env={**os.environ, "STORAGE": "sqlite", "DATA_DIR": str(data), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_not_understood_and_not_what_i_meant_are_kept_for_review(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = make_settings(STORAGE="sqlite", DATA_DIR=str(data), RESTRICTED_CHANNELS="facebook")
    async with (
        serve_bot_parts(settings) as (bot_url, parts),
        LocalChannel(bot_url) as web,
        LocalChannel(bot_url, "facebook") as messenger,
    ):
        conversation = web.conversation()
        said = texts(await conversation.say("my email is sam@example.com, ring 07700 900123"))
        assert said == [replies.NOT_UNDERSTOOD.text]
        await conversation.say("where is my order")
        await conversation.say("cancel")
        await conversation.say("help")
        assert texts(await conversation.say("that's not what I meant")) == [
            replies.NOT_WHAT_YOU_MEANT.text
        ]
        # Nothing is kept from a restricted channel, not even for the next message.
        await messenger.conversation().say("blah blah secret words")
        assert "secret" not in await everything_stored(parts.documents)

    review = nlu_review(data)
    assert review.returncode == 0, review.stderr
    kept = [json.loads(line) for line in review.stdout.splitlines()]
    assert [(k["reason"], k["text"]) for k in kept] == [
        ("notUnderstood", "my email is <email>, ring <phone>"),
        ("notWhatIMeant", "help"),
    ]
    assert kept[1]["guess"] == "help" and kept[0]["channel"] == "webchat"
    assert "secret" not in review.stdout and "sam@example.com" not in review.stdout
