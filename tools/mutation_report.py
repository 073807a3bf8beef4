"""The report of `make mutate`: mutmut's verdicts, per module, with every surviving mutant.

mutmut keeps a verdict per mutant in mutants/<module>.py.meta (an exit code of the tests
run against it) and the mutated functions in mutants/<module>.py, each beside the original
(their lines in <module>.py.spans). This reads both and writes build/mutation/report.md:
the kill ratio of each module, and for each surviving mutant the line it changed, so a
reader sees what no test noticed without opening mutmut's browser. A summary goes to
build/mutation/summary.json and to the terminal.

    python -m tools.mutation_report [--mutants mutants] [--out build/mutation]
    python -m tools.mutation_report --again     the mutants to judge again, one a line

mutmut keeps a mutant's verdict until its function changes: a test added later does not
re-judge a survivor by itself. `--again` names the survivors and the mutants no test
reached, for `mutmut run` to judge them again (`make mutate-again`).
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# mutmut's exit codes, as its own stats module reads them.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout",
          152: "timeout", 255: "timeout", 37: "caught by type check"}  # fmt: skip
SURVIVED = {0: "survived"}
NO_TESTS = {5: "no tests", 33: "no tests"}
NOT_RUN = {None: "not checked", 2: "interrupted", 34: "skipped"}


def verdict(exit_code: int | None) -> str:
    for table in (KILLED, SURVIVED, NO_TESTS, NOT_RUN):
        if exit_code in table:
            return table[exit_code]
    return "suspicious"  # a crash of the test process, not a failed assertion


@dataclass
class Survivor:
    mutant: str
    change: list[str]  # the differing lines: "- original", "+ mutated"


@dataclass
class ModuleReport:
    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[Survivor] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)  # functions no unit or dialog test runs
    again: list[str] = field(default_factory=list)  # survivors and untested, to judge again

    @property
    def killed(self) -> int:
        return sum(self.counts[name] for name in set(KILLED.values()))

    @property
    def judged(self) -> int:
        """Mutants with a verdict: killed, survived, no test reaching them, or suspicious."""
        not_run = set(NOT_RUN.values())
        return sum(n for name, n in self.counts.items() if name not in not_run)

    @property
    def not_run(self) -> int:
        """Mutants without a verdict yet (a run stopped before them goes on from there)."""
        return sum(self.counts[name] for name in set(NOT_RUN.values()))

    @property
    def kill_ratio(self) -> float:
        return self.killed / self.judged if self.judged else 1.0


def _change(source: list[str], spans: dict[str, list[int]], mutant: str) -> list[str]:
    function = mutant.rsplit("__mutmut_", 1)[0]
    original, mutated = spans.get(f"{function}__mutmut_orig"), spans.get(mutant)
    if not original or not mutated:
        return []
    before = source[original[0] : original[1]]
    after = source[mutated[0] : mutated[1]]
    lines = difflib.unified_diff(before, after, lineterm="", n=0)
    return [
        f"{line[0]} {line[1:].strip()}"
        for line in lines
        if line[:1] in "+-"
        and not line.startswith(("+++", "---"))
        and "__mutmut_" not in line  # the def line: the same function under two names
    ]


def read(mutants: Path) -> list[ModuleReport]:
    reports = []
    for meta_path in sorted(mutants.rglob("*.py.meta")):
        source_path = meta_path.with_suffix("")  # x.py.meta -> x.py
        relative = source_path.relative_to(mutants)
        report = ModuleReport(".".join(relative.with_suffix("").parts))
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        spans_path = source_path.with_name(source_path.name + ".spans")
        spans = (
            json.loads(spans_path.read_text(encoding="utf-8"))["spans"]
            if spans_path.exists()
            else {}
        )
        source = source_path.read_text(encoding="utf-8").splitlines()
        for key, exit_code in sorted(meta["exit_code_by_key"].items(), key=_natural):
            status = verdict(exit_code)
            report.counts[status] += 1
            mutant = key.rsplit(".", 1)[-1]
            if status in ("survived", "suspicious", "no tests"):
                report.again.append(key)
            if status == "survived" or status == "suspicious":
                report.survivors.append(Survivor(key, _change(source, spans, mutant)))
            elif status == "no tests":
                function = _readable(mutant.rsplit("__mutmut_", 1)[0])
                if function not in report.untested:
                    report.untested.append(function)
        if report.counts:
            reports.append(report)
    return reports


def _natural(item: tuple[str, object]) -> tuple[str, int]:
    name, _, number = item[0].rpartition("__mutmut_")
    return name, int(number) if number.isdigit() else 0


def _readable(function: str) -> str:
    # mutmut names a method x<sep>Class<sep>method; a function x_function.
    parts = function.split("\u01c1")
    return ".".join(parts[1:]) if len(parts) > 1 else function.removeprefix("x_")


def markdown(reports: list[ModuleReport]) -> str:
    total = ModuleReport("all")
    for report in reports:
        total.counts.update(report.counts)
    lines = [
        "# Mutation testing: the plain-Python core against the unit and dialog rings",
        "",
        "| module | mutants | killed | survived | no test reaches | suspicious | kill ratio "
        "| not run yet |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in [*reports, total]:
        counts = report.counts
        name = f"**{report.module}**" if report is total else f"`{report.module}`"
        lines.append(
            f"| {name} | {report.judged} | {report.killed} | {counts['survived']} "
            f"| {counts['no tests']} | {counts['suspicious']} | {100 * report.kill_ratio:.1f} % "
            f"| {report.not_run} |"
        )
    for report in reports:
        if not report.survivors and not report.untested:
            continue
        lines += ["", f"## `{report.module}`: {100 * report.kill_ratio:.1f} %"]
        if report.untested:
            lines += ["", "No unit or dialog test runs: " + ", ".join(
                f"`{name}`" for name in report.untested
            )]  # fmt: skip
        for survivor in report.survivors:
            lines += ["", f"- `{survivor.mutant}`"]
            lines += [f"  `{change}`" for change in survivor.change[:6]]
    return "\n".join(lines) + "\n"


def summary(reports: list[ModuleReport]) -> dict:
    return {
        report.module: {
            "mutants": report.judged,
            "killed": report.killed,
            "survived": report.counts["survived"],
            "no_tests": report.counts["no tests"],
            "kill_ratio": round(report.kill_ratio, 3),
            "not_run_yet": report.not_run,
        }
        for report in reports
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation_report")
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mutation")
    parser.add_argument("--again", action="store_true", help="print the mutants to judge again")
    args = parser.parse_args()
    reports = read(args.mutants)
    if not reports:
        raise SystemExit(f"no mutmut results under {args.mutants}: run `make mutate` first")
    if args.again:
        print("\n".join(key for report in reports for key in report.again))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(markdown(reports), encoding="utf-8")
    (args.out / "summary.json").write_text(json.dumps(summary(reports), indent=2) + "\n")
    for report in reports:
        waiting = f"  ({report.not_run} not run yet)" if report.not_run else ""
        print(f"{report.module:<40} {report.judged:5d} mutants  {100 * report.kill_ratio:5.1f} %"
              f"{waiting}")  # fmt: skip
    killed, judged = sum(r.killed for r in reports), sum(r.judged for r in reports)
    waiting = sum(r.not_run for r in reports)
    print(f"{'all':<40} {judged:5d} mutants  {100 * killed / max(judged, 1):5.1f} %"
          + (f"  ({waiting} not run yet)" if waiting else ""))  # fmt: skip
    print(f"report: {(args.out / 'report.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
