"""make bench's arithmetic: what it charges a turn on Cosmos DB, and the conversations it
drives (checked against the bot itself, so the bench measures turns that succeed)."""

from __future__ import annotations

from bench.cosmos_cost import per_turn, request_units
from bench.run import tasks
from channels import replies
from tests.dialogs.test_order_status import Customer


def test_documents_are_charged_at_the_published_size_at_or_above_their_own() -> None:
    assert request_units("read", 800) == 1.00
    assert request_units("read", 1024) == 1.00
    assert request_units("read", 1025) == 1.04
    assert request_units("write", 3 * 1024) == 6.67
    assert request_units("write", 5_000_000) == 1250.00
    assert request_units("read", 0) == 1.00  # a read that found nothing


def test_a_turns_cost_is_what_happened_between_two_counts() -> None:
    before = {"read": {"requests": 2, "documentBytes": [500]},
              "write": {"requests": 1, "documentBytes": [700]}}  # fmt: skip
    after = {
        "read": {"requests": 6, "documentBytes": [500, 900, 1500]},  # 2 new found, 2 missing
        "write": {"requests": 5, "documentBytes": [700, 300, 300, 2100, 5000]},
        "query": {"requests": 1, "documentBytes": [100]},
    }
    cost = per_turn(before, after, turns=2)
    assert (cost.reads, cost.writes, cost.queries) == (2.0, 2.0, 0.5)
    assert cost.kb_read == round((900 + 1500) / 1024 / 2, 2)
    assert cost.kb_written == round((300 + 300 + 2100 + 5000) / 1024 / 2, 2)
    # reads: 1.00 + 1.04 + two missing at 1.00; writes: 4.95 + 4.95 + 6.67 (2,100 bytes
    # is over 2 KB) + 7.04
    assert cost.request_units == round((1.00 + 1.04 + 2 * 1.00 + 4.95 + 4.95 + 6.67 + 7.04) / 2, 1)


async def test_the_benchs_tasks_conversation_is_answered_as_the_bench_expects() -> None:
    script = tasks()
    assert len(script) >= 3 and script[-1][1] == replies.FIXED.text
    customer = Customer("webchat")
    for fields, expected in script:
        said = await customer.say(fields["text"])
        assert any(text.startswith(expected) for text in said), (fields, said)


def test_the_capacity_plan_is_the_arithmetic_of_the_measured_run() -> None:
    from bench.capacity import plan

    cosmos = {"reads": 2.0, "writes": 3.0, "kb_read": 2.0, "kb_written": 3.0,
              "request_units": 20.0}  # fmt: skip
    report = {
        "when": "then",
        "cosmos_latencies_ms": [0.0, 5.0],
        "results": [
            {"bot": "ours", "storage": "cosmos", "cpu_ms_per_turn": 99.0, "cosmos": cosmos},
            {"bot": "ours", "storage": "cosmos+5ms", "cpu_ms_per_turn": 10.0, "cosmos": cosmos},
            {"bot": "samples", "storage": "cosmos+5ms", "cpu_ms_per_turn": 30.0,
             "cosmos": {**cosmos, "request_units": 5.0}},
        ],
    }  # fmt: skip
    lines = plan(report, conversations=36_000, turns=5, burst=2, busy=0.5).splitlines()
    # 36,000 x 5 / 3600 = 50 turns/s, 100 at the peak; 100 x 10 ms / 50 % = 2 cores.
    assert "= 50.0 turns/s; x 2 for the busiest minutes = 100.0 turns/s" in lines[2]
    assert "= 2.00 cores -> 2 single-core instances" in lines[3]
    # 100 x 20 RU + the sender's 2.1 RU/s = 2002 RU/s: autoscale to 3,000.
    assert "= 2002 RU/s -> autoscale to 3,000 RU/s" in lines[4]
    assert (
        plan(report, 360_000, 5, 2, 0.5)
        .splitlines()[3]
        .endswith("-> 20 single-core instances (two at least)")
    )
