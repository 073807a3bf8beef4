"""make nlu-bench, reduced for CI: 50 of CLINC150's intents, 10 training and 10 test examples
each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_clinc150_bench_runs_and_reports_beside_the_published_figures(
    tmp_path: Path,
) -> None:
    out = tmp_path / "result.json"
    bench = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.nlu_clinc",
            "--per-intent",
            "10",
            "--evaluate-per-intent",
            "10",
            "--intents",
            "50",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bench.returncode == 0, bench.stderr
    assert "Dialogflow (oos as a class)" in bench.stdout and "ours" in bench.stdout
    result = json.loads(out.read_text())
    assert result["trainedOn"] == 500 and result["testedOn"] == 500
    # Ten examples an intent is far from the full set; the figures must still be sane.
    assert result["inScopeAccuracy"] > 60 and result["outOfScopeRecall"] >= 40
    assert result["latencyMs"]["p95"] < 50
