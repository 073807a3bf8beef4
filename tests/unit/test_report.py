"""The analytics report page: the figures a support lead reads, and nothing a message or a
name can inject."""

from __future__ import annotations

import html
import json
import re
import shlex
from datetime import date
from pathlib import Path

from analytics.metrics import report
from analytics.report import render_html
from nlu.review import ReviewEntry
from tests.conftest import golden
from tests.unit.test_metrics import EVENTS

FIRST, LAST = date(2026, 11, 24), date(2026, 11, 25)


def tiles(page: str) -> dict[str, str]:
    found = re.findall(r"<span class='muted'>([^<]+)</span><b>([^<]*)</b>", page)
    return dict(found)


def test_the_tiles_show_the_figures_as_a_support_lead_reads_them() -> None:
    page = render_html(report(EVENTS), [], FIRST, LAST)
    assert tiles(page) == {
        "Sessions": "6", "Engaged": "5", "Contained": "40 %", "Hand-off rate": "20 %",
        "Abandoned": "20 %", "Not understood": "14 %", "CSAT (1-5)": "4.0",
        "Helpful": "50 %", "Resolution time": "4 min", "Agent wait": "3 min",
    }  # fmt: skip
    assert "<title>Customer service bot: 2026-11-24 to 2026-11-25</title>" in page
    # The figures themselves ride along for anyone who wants the numbers.
    embedded = re.search(r"<script type='application/json' id='figures'>\n(.*)\n</script>",
                         page, re.S)  # fmt: skip
    assert embedded is not None and json.loads(embedded.group(1)) == report(EVENTS)
    assert "<h3>orderStatus</h3>" in page and "<h3>bookAppointment</h3>" in page
    assert "<td>webchat</td>" in page


def test_a_range_with_nothing_says_so_and_shows_dashes() -> None:
    page = render_html(report([]), [], FIRST, FIRST)
    assert tiles(page)["Contained"] == "-" and tiles(page)["Resolution time"] == "-"
    assert page.count("Nothing in this range.") >= 3
    assert "None kept in this range." in page


def test_short_times_are_in_seconds_and_long_ones_in_minutes() -> None:
    figures = report(EVENTS)
    figures["resolutionSeconds"], figures["agentWaitSeconds"] = 119.4, 120.0
    shown = tiles(render_html(figures, [], FIRST, LAST))
    assert (shown["Resolution time"], shown["Agent wait"]) == ("119 s", "2 min")


def test_what_customers_wrote_is_shown_escaped_with_a_command_that_is_safe_to_paste() -> None:
    hostile = "</script><img src=x onerror=alert(1)> $(rm -rf ~) 'quoted'"
    entries = [
        ReviewEntry(hostile, "orderStatus", 0.41, "notUnderstood", "webchat<b>",
                    "2026-11-24T09:30:00Z"),
        ReviewEntry("fix my thing", "none", 0.2, "notWhatIMeant", "msteams", "2026-11-24T10:00Z"),
    ]  # fmt: skip
    figures = report(EVENTS)
    figures["intents"] = {"<script>alert(1)</script>": 3}
    page = render_html(figures, entries, FIRST, LAST)
    # The figures' JSON may hold any text but never ends its own script element early.
    assert page.count("</script>") == 1
    shown = page[: page.index("<script type='application/json'")]
    assert "<img" not in shown and "<script" not in shown and "webchat<b>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown  # the intent, as text
    commands = [
        html.unescape(c) for c in re.findall(r"<code>(python -m nlu add[^<]*)</code>", page)
    ]
    assert shlex.split(commands[0]) == [
        "python", "-m", "nlu", "add", "--intent", "orderStatus", hostile,
    ]  # fmt: skip
    # No guess: the command names a placeholder to replace, never "none".
    assert shlex.split(commands[1])[5] == "INTENT"
    assert "<td>2026-11-24T09:30</td>" in page and "(0.41)" in page


def test_the_whole_page_is_the_reviewed_one() -> None:
    # Every heading, chart and table as a support lead sees it (bar lengths, the days'
    # stacked outcomes, the funnels); tests.conftest.golden says how to write it again.
    entries = [ReviewEntry("where's my stuff", "orderStatus", 0.41, "notUnderstood", "webchat",
                           "2026-11-24T09:30:00Z")]  # fmt: skip
    page = render_html(report(EVENTS), entries, FIRST, LAST)
    assert page == golden(Path(__file__).with_name("report_golden.html"), page)


def test_an_empty_page_and_a_page_at_its_edges_are_the_reviewed_ones() -> None:
    empty = render_html(report([]), [], FIRST, FIRST)
    assert empty == golden(Path(__file__).with_name("report_empty_golden.html"), empty)
    figures = report(EVENTS)
    # Fourteen intents (twelve are charted), one named with markup, a slow resolution, and
    # a task whose steps were reached more often than it started (a step asked again).
    figures["intents"] = {f"intent{n:02d}</b>": 20 - n for n in range(14)}
    figures["resolutionSeconds"] = 7200.0
    figures["tasks"]["bookAppointment"]["steps"] = {"when": 3, "slots": 1}
    entries = [
        ReviewEntry("first", "orderStatus", 0.41, "notUnderstood", "webchat", "2026-11-24T09:30Z"),
        ReviewEntry("second", "none", 0.2, "notWhatIMeant", "msteams", "2026-11-24T10:00Z"),
    ]
    page = render_html(figures, entries, FIRST, LAST)
    assert page == golden(Path(__file__).with_name("report_edges_golden.html"), page)
