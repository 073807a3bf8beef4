"""`make profile`: where a turn's time goes, with everything on.

The bot runs as in `make bench` (a real process, the stand-in order API and connector, 20
users through the order-status conversation) while py-spy samples it from outside at
200 Hz. Every sample is charged to the layer of its innermost frame (the code that was
running), and to each of a few entry points it passed through (inclusive: a turn's
replies, state, understanding). The summary is printed as a Markdown table and kept in
bench/profile.json, beside the raw stacks (bench/profile-stacks.txt, for a flame graph).

    make profile ARGS="--storage sqlite --seconds 20"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
from collections import Counter
from tempfile import TemporaryDirectory

from bench.processes import ROOT, cpu_seconds, start_bot, stop_bot, wait_until_up
from bench.run import drive, stand_ins
from tools.local_peers import KEY, CosmosServer

STACKS = ROOT / "bench" / "profile-stacks.txt"
SUMMARY = ROOT / "bench" / "profile.json"

# The layer of the code running, by where its file is (first match wins).
LAYERS: tuple[tuple[str, str], ...] = (
    ("botbuilder dialogs", r"/botbuilder/dialogs/(?!prompts/|choices/)"),
    ("botbuilder prompts and choices", r"/botbuilder/dialogs/(prompts|choices)/"),
    ("Recognizers-Text", r"/recognizers_"),
    ("botbuilder core (turn, adapter, state)", r"/botbuilder/core/"),
    ("botbuilder schema and msrest (serialising)", r"/botbuilder/schema/|/msrest/"),
    ("copy (deep copies)", r"/copy\.py"),
    ("the bot: state", r"/state/"),
    ("the bot: understanding (nlu/)", r"/nlu/"),
    ("the bot: replies (channels/)", r"/channels/"),
    ("the bot: dialogs", r"/dialogs/"),
    ("the bot: bots/, customers/, analytics/", r"/(bots|customers|analytics)/"),
    ("the bot: other", r"/work/[^/]+/(services|handoff|notifications|app\.py|config\.py)"),
    ("scikit-learn, numpy, onnxruntime", r"/(sklearn|numpy|scipy|onnxruntime|tokenizers)/"),
    ("Babel", r"/babel/"),
    ("pydantic", r"/pydantic"),
    ("json", r"/json/"),
    ("aiohttp, yarl, multidict", r"/(aiohttp|yarl|multidict)/"),
    ("logging", r"/logging/"),
    ("asyncio and the event loop", r"/asyncio/|/selectors\.py|uvloop"),
)
# Entry points whose inclusive share says what a part of the turn costs.
ENTRY_POINTS: tuple[tuple[str, str], ...] = (
    ("sending replies (TurnContext.send_activities)", r"^send_activities \(.*turn_context"),
    ("deep copies, anywhere", r"^deepcopy \("),
    ("loading the turn's state", r"^load \(.*state/turn_state"),
    ("saving the turn's state", r"^save \(.*state/turn_state"),
    ("understanding (recognize)", r"^recognize \(.*nlu/"),
    ("Confirm and choice prompts' recognition", r"^on_recognize \(.*botbuilder/dialogs/prompts"),
    ("rendering replies (channels/render)", r"^render \(.*channels/render"),
    ("the turn itself (inside the middleware)", r"^on_turn \(.*analytics_middleware"),
    ("logging", r"/logging/__init__"),
)


def summarise(stacks: list[tuple[list[str], int]]) -> dict:
    total = sum(count for _, count in stacks) or 1
    layers: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    idle = 0
    for frames, count in stacks:
        innermost = frames[-1] if frames else ""
        if re.search(r"select \(|epoll|poll \(", innermost) or not frames:
            idle += count
        layer = next((name for name, where in LAYERS if re.search(where, innermost)), "other")
        layers[layer] += count
        for name, where in ENTRY_POINTS:
            if any(re.search(where, frame) for frame in frames):
                entries[name] += count
    busy = total - idle
    return {
        "samples": total,
        "busy_samples": busy,
        "layers_percent_of_busy": {
            name: round(100 * count / max(busy, 1), 1) for name, count in layers.most_common()
        },
        "entry_points_percent_of_busy": {
            name: round(100 * entries[name] / max(busy, 1), 1) for name, _ in ENTRY_POINTS
        },
    }


def read_stacks(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw format: "frame;frame;...;innermost count" a line, outermost first."""
    stacks = []
    for line in text.splitlines():
        body, _, count = line.rpartition(" ")
        if body and count.isdigit():
            stacks.append((body.split(";"), int(count)))
    return stacks


async def profile(storage: str, users: int, seconds: float) -> dict:
    spy = shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: run make profile (it installs it)")
    connector, orders_url, runners = await stand_ins()
    cosmos = CosmosServer(True, 0.0) if storage == "cosmos" else None
    try:
        with TemporaryDirectory() as data_dir:
            env = {"STORAGE": storage, "ORDER_API_URL": orders_url, "DATA_DIR": data_dir}
            if cosmos:
                cosmos.start()
                env.update(
                    COSMOS_ENDPOINT=cosmos.endpoint, COSMOS_KEY=KEY, COSMOS_DATABASE="profile",
                    COSMOS_CONTAINER="state", COSMOS_VERIFY_TLS="false",
                    COSMOS_CREATE_CONTAINER="true",
                )  # fmt: skip
            process, bot_url = start_bot("ours", env)
            try:
                await wait_until_up(bot_url.replace("/api/messages", "/healthz"), process)
                await drive(bot_url, connector, users, 2.0)  # warm up
                record = await asyncio.create_subprocess_exec(
                    spy, "record", "--pid", str(process.pid), "--rate", "200", "--format", "raw",
                    "--duration", str(int(seconds)), "--output", str(STACKS), "--nonblocking",
                    "--full-filenames",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
                cpu_before = cpu_seconds(process.pid)
                latencies, errors = await drive(bot_url, connector, users, seconds)
                cpu = cpu_seconds(process.pid) - cpu_before
                said, _ = await record.communicate()
                if record.returncode != 0:
                    said_text = said.decode(errors="replace")[-500:]
                    raise SystemExit(f"py-spy failed ({record.returncode}): {said_text}")
            finally:
                stop_bot(process)
    finally:
        if cosmos:
            cosmos.stop()
        for runner in runners:
            await runner.cleanup()
    summary = summarise(read_stacks(STACKS.read_text(errors="replace")))
    summary.update(
        storage=storage, users=users, seconds=seconds, turns=len(latencies), errors=errors,
        turns_per_second=round(len(latencies) / seconds, 1),
        cpu_ms_per_turn=round(1000 * cpu / max(len(latencies), 1), 2),
    )  # fmt: skip
    return summary


def markdown(summary: dict) -> str:
    lines = [
        f"{summary['storage']}, {summary['users']} users, {summary['seconds']:g} s: "
        f"{summary['turns_per_second']} turns/s, {summary['cpu_ms_per_turn']} ms CPU a turn, "
        f"{summary['busy_samples']} busy samples",
        "",
        "| layer (code running) | share of busy time |",
        "|---|---|",
        *(f"| {name} | {share} % |" for name, share in summary["layers_percent_of_busy"].items()),
        "",
        "| part of the turn (inclusive) | share of busy time |",
        "|---|---|",
        *(
            f"| {name} | {share} % |"
            for name, share in summary["entry_points_percent_of_busy"].items()
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make profile", description=__doc__.splitlines()[0])
    parser.add_argument("--storage", choices=("memory", "sqlite", "cosmos"), default="memory")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    summary = asyncio.run(profile(args.storage, args.users, args.seconds))
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
