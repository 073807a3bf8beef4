"""The capacity plan, from the latest `make bench` (bench/results.json): what a company with
a given number of conversations an hour at peak would provision on Azure.

    python -m bench.capacity [--conversations 10000] [--turns 5] [--burst 2] [--busy 0.6]

Every figure comes from the run: the bot's CPU a turn on Cosmos DB with a 5 ms round trip
(the in-region case), and what a turn asked of Cosmos DB, charged by Azure's published
table (bench/cosmos_cost.py). The assumptions are the arguments, printed with the answer.
"""

from __future__ import annotations

import argparse
import json
import math

from bench.run import RESULTS

# Cosmos DB's smallest steps: autoscale scales between a tenth of its maximum and the
# maximum, which is set in thousands of RU/s; manual throughput starts at 400 RU/s.
AUTOSCALE_STEP = 1000
# What the update sender reads when nothing is due: its 64 index shards every 30 s.
SENDER_IDLE_RU_PER_S = 64 / 30


def plan(report: dict, conversations: int, turns: float, burst: float, busy: float) -> str:
    runs = [r for r in report["results"] if r["bot"] == "ours" and r.get("cosmos")]
    if not runs:
        raise SystemExit("no Cosmos DB run in bench/results.json: run make bench first")
    # The in-region run (the largest latency measured), both conversations.
    most = max(report["cosmos_latencies_ms"])
    latency = f"cosmos+{most:g}ms" if most else "cosmos"
    measured = [r for r in runs if r["storage"] == latency]
    cpu_ms = round(max(r["cpu_ms_per_turn"] for r in measured), 1)
    ru = max(r["cosmos"]["request_units"] for r in measured)
    cost = max(measured, key=lambda r: r["cosmos"]["request_units"])["cosmos"]
    per_second = conversations * turns / 3600
    peak = per_second * burst
    cores = peak * cpu_ms / 1000 / busy
    instances = max(2, math.ceil(cores))  # two at least: one can restart or be replaced
    ru_per_s = peak * ru + SENDER_IDLE_RU_PER_S
    autoscale_max = AUTOSCALE_STEP * math.ceil(ru_per_s / AUTOSCALE_STEP)
    return "\n".join(
        [
            f"measured ({report['when']}, {latency}): {cpu_ms} ms of CPU a turn; a turn "
            f"{cost['reads']} reads ({cost['kb_read']} KB), {cost['writes']} writes "
            f"({cost['kb_written']} KB): {ru} RU",
            f"one core carries {1000 / cpu_ms:.0f} turns/s flat out, "
            f"{busy * 1000 / cpu_ms:.0f} at {busy:.0%} busy",
            f"{conversations:,} conversations an hour x {turns:g} turns = {per_second:.1f} "
            f"turns/s; x {burst:g} for the busiest minutes = {peak:.1f} turns/s",
            f"CPU: {peak:.1f} turns/s x {cpu_ms} ms / {busy:.0%} = {cores:.2f} cores -> "
            f"{instances} single-core instances (two at least)",
            f"Cosmos DB: {peak:.1f} turns/s x {ru} RU + {SENDER_IDLE_RU_PER_S:.1f} RU/s for the "
            f"update sender = {ru_per_s:.0f} RU/s -> autoscale to {autoscale_max:,} RU/s "
            f"(it runs between {autoscale_max // 10:,} and {autoscale_max:,})",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000, help="an hour, at peak")
    parser.add_argument("--turns", type=float, default=5.0,
                        help="activities a conversation (the bench's: 3 and 6)")  # fmt: skip
    parser.add_argument("--burst", type=float, default=2.0,
                        help="the busiest minutes over the hour's average")  # fmt: skip
    parser.add_argument("--busy", type=float, default=0.6, help="the CPU share to plan for")
    args = parser.parse_args()
    report = json.loads(RESULTS.read_text())
    print(plan(report, args.conversations, args.turns, args.burst, args.busy))


if __name__ == "__main__":
    main()
