"""The report from real conversations: the figures read back from the page, and the page
opened in Chromium without an error (screenshot kept)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from channels import replies
from tests.conftest import ROOT, make_settings, serve_bot_parts
from tests.peers.test_webchat_browser import ARTIFACTS, chromium
from tests.protocol.test_handoff import ANA, Desk, card_id_of, open_desk, take
from tools.local_channel import LocalChannel


async def test_the_report_shows_the_conversations_figures_and_opens_cleanly(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = make_settings(STORAGE="sqlite", DATA_DIR=str(data),
                             HANDOFF_TEAM_ID="19:support-team@thread.tacv2")  # fmt: skip
    async with (
        serve_bot_parts(settings) as (url, parts),
        LocalChannel(url, "webchat") as webchat,
        LocalChannel(url, "msteams") as teams,
    ):
        # Web chat: an order answered and found helpful; a message not understood.
        first = webchat.conversation()
        await first.say("where is order 123456?")
        await first.say(replies.HELPFUL)
        await first.say("purple monkey dishwasher")
        # Teams: a hand-off, rated 4.
        desk = Desk(teams)
        await open_desk(desk)
        second = teams.conversation()
        await second.say("agent")
        card_id = card_id_of(desk)
        await take(desk, ANA, card_id)
        await desk.as_agent(ANA).thread(card_id).say("/end")
        await second.say("yes")
        await second.say("4")
        await parts.events.flush()
    out = tmp_path / "report.html"
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "analytics", "report", "--from", "2026-11-24", "--to",
         "2026-11-24", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "STORAGE": "sqlite", "DATA_DIR": str(data)},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    page = out.read_text()
    figures = json.loads(page.split("id='figures'>", 1)[1].split("</script>", 1)[0])
    assert (figures["sessions"], figures["engaged"], figures["resolved"],
            figures["escalated"]) == (2, 2, 1, 1)  # fmt: skip
    assert (figures["csat"], figures["helpfulRate"]) == (4.0, 1.0)
    assert figures["byChannel"]["msteams"]["escalated"] == 1
    # To learn from, with the command that adds it once labelled.
    assert "python -m nlu add --intent INTENT &#x27;purple monkey dishwasher&#x27;" in page
    async with chromium() as browser:
        browser_page = await browser.new_page()
        problems: list[str] = []
        browser_page.on("pageerror", lambda error: problems.append(str(error)))
        browser_page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await browser_page.goto(out.as_uri())
        ARTIFACTS.mkdir(exist_ok=True)
        await browser_page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
        tiles = await browser_page.locator(".tile").all_inner_texts()
    assert problems == []
    assert any(t.startswith("Contained") and "50 %" in t for t in tiles)
