"""The report: one self-contained HTML page of the metrics, with charts, for a date range.

No script and nothing fetched: the charts are inline SVG, the figures are also in the page
as JSON (`<script type="application/json" id="figures">`), and the messages the bot did
not understand are listed with what to do with them.
"""

from __future__ import annotations

import html
import json
import shlex
from datetime import date
from typing import Any

from nlu.review import ReviewEntry

_OUTCOMES = (("resolved", "#2e7d32"), ("cameBack", "#9e9d24"), ("escalated", "#1565c0"),
             ("abandoned", "#c62828"))  # fmt: skip
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.tile{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:130px}
.tile b{display:block;font-size:22px}.muted{color:#666}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left;vertical-align:top} code{background:#f4f4f4;padding:1px 4px}
"""


def render_html(figures: dict[str, Any], review: list[ReviewEntry], first: date, last: date) -> str:
    tiles = [
        ("Sessions", figures["sessions"]), ("Engaged", figures["engaged"]),
        ("Contained", _percent(figures["containmentRate"])),
        ("Hand-off rate", _percent(figures["handoffRate"])),
        ("Abandoned", _percent(figures["abandonRate"])),
        ("Not understood", _percent(figures["notUnderstoodRate"])),
        ("CSAT (1-5)", _number(figures["csat"])), ("Helpful", _percent(figures["helpfulRate"])),
        ("Resolution time", _seconds(figures["resolutionSeconds"])),
        ("Agent wait", _seconds(figures["agentWaitSeconds"])),
    ]  # fmt: skip
    days = figures["byDay"]
    channels = figures["byChannel"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Customer service bot: {first} to {last}</title><style>{_STYLE}</style></head>",
        f"<body><h1>Customer service bot</h1><div class='muted'>{first} to {last} (UTC)</div>",
        "<div class='tiles'>",
        *(_tile(name, value) for name, value in tiles),
        "</div>",
        "<h2>Sessions a day, by outcome</h2>",
        _stacked_days({day: {o: f[o] for o, _ in _OUTCOMES} for day, f in days.items()}),
        "<h2>Hand-off rate a day</h2>",
        _bars([(day, f["handoffRate"] or 0) for day, f in days.items()], _percent),
        "<h2>Satisfaction a day (mean rating)</h2>",
        _bars([(day, f["csat"] or 0) for day, f in days.items()], _number, top=5),
        "<h2>Tasks: started, completed, cancelled, abandoned</h2>",
        *(_funnel(task, f) for task, f in figures["tasks"].items()),
        "<h2>Top intents</h2>",
        _bars(list(figures["intents"].items())[:12], str),
        "<h2>By channel</h2>",
        _channel_table(channels),
        "<h2>Messages to learn from</h2>",
        _review_table(review),
        "<script type='application/json' id='figures'>",
        json.dumps(figures).replace("</", "<\\/"),
        "</script></body></html>",
    ]
    return "\n".join(parts)


def _tile(name: str, value: object) -> str:
    return f"<div class='tile'><span class='muted'>{html.escape(name)}</span><b>{value}</b></div>"


def _bars(items: list[tuple[str, float]], label, top: float | None = None) -> str:
    if not items:
        return "<p class='muted'>Nothing in this range.</p>"
    # The longest bar is `top` (satisfaction's 5), or the largest value when one is larger
    # (a funnel step asked again more often than its task started): no bar runs off the chart.
    high = max([top or 0, *(value for _, value in items)]) or 1
    row, width = 22, 520
    rows = []
    for n, (name, value) in enumerate(items):
        length = int(width * value / high)
        y = n * row
        rows.append(
            f"<text x='0' y='{y + 15}'>{html.escape(str(name))}</text>"
            f"<rect x='170' y='{y + 4}' width='{length}' height='14' fill='#1565c0'/>"
            f"<text x='{176 + length}' y='{y + 15}'>{html.escape(label(value))}</text>"
        )
    return (f"<svg width='760' height='{len(items) * row + 4}' font-size='12' role='img'>"
            f"{''.join(rows)}</svg>")  # fmt: skip


def _stacked_days(days: dict[str, dict[str, int]]) -> str:
    if not days:
        return "<p class='muted'>Nothing in this range.</p>"
    high = max(sum(counts.values()) for counts in days.values()) or 1
    column, height = 48, 160
    shapes = []
    for n, (day, counts) in enumerate(days.items()):
        x, top = n * column + 8, height
        for outcome, color in _OUTCOMES:
            size = int(height * counts.get(outcome, 0) / high)
            top -= size
            if size:
                tip = f"<title>{outcome}: {counts[outcome]}</title>"
                shapes.append(f"<rect x='{x}' y='{top + 10}' width='30' height='{size}' "
                              f"fill='{color}'>{tip}</rect>")  # fmt: skip
        shapes.append(f"<text x='{x}' y='{height + 26}' font-size='10'>{day[5:]}</text>")
    legend = " ".join(f"<span style='color:{color}'>&#9632; {outcome}</span>"
                      for outcome, color in _OUTCOMES)  # fmt: skip
    return (
        f"<svg width='{max(len(days) * column + 16, 200)}' height='{height + 34}' "
        f"role='img'>{''.join(shapes)}</svg><div class='muted'>{legend}</div>"
    )


def _funnel(task: str, figures: dict[str, Any]) -> str:
    steps = [("started", figures["started"]), *figures["steps"].items(),
             ("completed", figures["completed"]), ("cancelled", figures["cancelled"]),
             ("abandoned", figures["abandoned"])]  # fmt: skip
    return f"<h3>{html.escape(task)}</h3>" + _bars(steps, str)


def _channel_table(channels: dict[str, dict[str, Any]]) -> str:
    head = ("<table><tr><th>channel</th><th>sessions</th><th>contained</th><th>hand-off</th>"
            "<th>abandoned</th><th>CSAT</th><th>helpful</th></tr>")  # fmt: skip
    rows = [f"<tr><td>{html.escape(name)}</td><td>{f['sessions']}</td>"
            f"<td>{_percent(f['containmentRate'])}</td><td>{_percent(f['handoffRate'])}</td>"
            f"<td>{_percent(f['abandonRate'])}</td><td>{_number(f['csat'])}</td>"
            f"<td>{_percent(f['helpfulRate'])}</td></tr>"
            for name, f in channels.items()]  # fmt: skip
    return head + "".join(rows) + "</table>"


def _review_table(review: list[ReviewEntry]) -> str:
    if not review:
        return "<p class='muted'>None kept in this range.</p>"
    rows = [f"<tr><td>{html.escape(e.at[:16])}</td><td>{html.escape(e.channel)}</td>"
            f"<td>{html.escape(e.reason)}</td><td>{html.escape(e.guess)} "
            f"({e.confidence:.2f})</td><td>{html.escape(e.text)}</td>"
            f"<td><code>{html.escape(_add_command(e))}</code></td></tr>"
            for e in review]  # fmt: skip
    return (
        "<p>Masked as kept. Label each worth learning with the intent it meant (the command "
        "names the bot's guess: change it where the guess was wrong), run the command, then "
        "check the effect with <code>python -m nlu evaluate</code>.</p>"
        "<table><tr><th>when</th><th>channel</th><th>why</th><th>bot's guess</th>"
        "<th>message</th><th>to add it</th></tr>" + "".join(rows) + "</table>"
    )


def _add_command(entry: ReviewEntry) -> str:
    intent = entry.guess if entry.guess and entry.guess != "none" else "INTENT"
    return f"python -m nlu add --intent {shlex.quote(intent)} {shlex.quote(entry.text)}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"
