"""make mutate's report: mutmut's verdicts read per module, survivors shown by the line they
changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.mutation_report import main, markdown, read, summary

# A module as mutmut writes it: each function beside its mutants (spans: their lines).
SOURCE = """\
def x_limit__mutmut_orig(count):
    return count >= 3

def x_limit__mutmut_1(count):
    return count > 3

def x_limit__mutmut_2(count):
    return count >= 4

def x_limit__mutmut_3(count):
    return count < 3

def x_forget__mutmut_orig(items):
    items.clear()

def x_forget__mutmut_1(items):
    pass
"""
SPANS = {
    "x_limit__mutmut_orig": [0, 2],
    "x_limit__mutmut_1": [3, 5],
    "x_limit__mutmut_2": [6, 8],
    "x_limit__mutmut_3": [9, 11],
    "x_forget__mutmut_orig": [12, 14],
    "x_forget__mutmut_1": [15, 17],
}


def write_module(mutants: Path, exit_codes: dict[str, int | None]) -> None:
    package = mutants / "customers"
    package.mkdir(parents=True)
    (package / "limits.py").write_text(SOURCE)
    (package / "limits.py.spans").write_text(json.dumps({"version": 1, "spans": SPANS}))
    meta = {"exit_code_by_key": {f"customers.limits.{k}": v for k, v in exit_codes.items()}}
    (package / "limits.py.meta").write_text(json.dumps(meta))


def test_the_kill_ratio_counts_timeouts_as_kills_and_untested_mutants_as_survivors(
    tmp_path: Path,
) -> None:
    write_module(tmp_path, {"x_limit__mutmut_1": 0, "x_limit__mutmut_2": 1,
                            "x_limit__mutmut_3": 36, "x_forget__mutmut_1": 33})  # fmt: skip
    [report] = read(tmp_path)
    assert report.module == "customers.limits"
    assert (report.judged, report.killed) == (4, 2)
    assert report.kill_ratio == 0.5
    assert report.untested == ["forget"]
    assert summary([report])["customers.limits"]["survived"] == 1


def test_a_survivor_is_shown_by_the_line_it_changed(tmp_path: Path) -> None:
    write_module(tmp_path, {"x_limit__mutmut_1": 0, "x_limit__mutmut_2": 1})
    text = markdown(read(tmp_path))
    assert "| `customers.limits` | 2 | 1 | 1 | 0 | 0 | 50.0 % | 0 |" in text
    assert "`customers.limits.x_limit__mutmut_1`" in text
    assert "`- return count >= 3`" in text and "`+ return count > 3`" in text
    assert "mutmut_2`" not in text  # killed: not listed


def test_mutants_not_yet_run_are_left_out_of_the_ratio(tmp_path: Path) -> None:
    write_module(tmp_path, {"x_limit__mutmut_1": 1, "x_limit__mutmut_2": None})
    [report] = read(tmp_path)
    assert (report.judged, report.kill_ratio, report.not_run) == (1, 1.0, 1)


def test_the_survivors_and_untested_mutants_are_named_to_be_judged_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, {"x_limit__mutmut_1": 0, "x_limit__mutmut_2": 1,
                            "x_limit__mutmut_3": None, "x_forget__mutmut_1": 33})  # fmt: skip
    monkeypatch.setattr("sys.argv", ["mutation_report", "--mutants", str(tmp_path), "--again"])
    main()
    assert capsys.readouterr().out.split() == [
        "customers.limits.x_forget__mutmut_1", "customers.limits.x_limit__mutmut_1"]  # fmt: skip
