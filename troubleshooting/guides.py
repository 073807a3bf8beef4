"""Troubleshooting guides: data a support team edits, one YAML file a device category.

    troubleshooting/guides/<device>.yml
      device: router                 # a device category of nlu/data/<language>/intents.yml
      title: Wi-Fi or internet problems
      symptoms: [wifi, keeps dropping]   # words that pick this guide from a request
      start: restart                 # the first step
      steps:
        restart:
          say: Unplug the router ...     # what to do
          ask: Did that fix it?          # optional; this is the default question
          answers: {"Yes": fixed, "No": lights}   # answer -> next step, or an end
      ends:                          # optional ends of this guide, with what to say
        wait-for-provider: Your provider is fixing it.

Every path ends in `fixed`, `repair` (book an in-store repair), `technician` (book a
visit), `person` (hand over to an agent), or one of the guide's own `ends`. Plain Python;
`load_guides` refuses a guide with a step nobody reaches, an answer to nowhere, or a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

GUIDES_DIR = Path(__file__).with_name("guides")
DEFAULT_QUESTION = "Did that fix it?"
MIN_STEPS, MAX_STEPS = 3, 8


class Outcome(StrEnum):
    FIXED = "fixed"
    REPAIR = "repair"
    TECHNICIAN = "technician"
    PERSON = "person"


class GuideError(Exception):
    """A guide file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Step:
    id: str
    say: str
    question: str
    # answer label -> next step id or end name
    answers: dict[str, str]


@dataclass(frozen=True)
class Guide:
    device: str
    title: str
    symptoms: tuple[str, ...]
    start: str
    steps: dict[str, Step]
    # the guide's own ends -> what to say there
    ends: dict[str, str]

    def is_end(self, target: str) -> bool:
        return target in self.ends or target in {o.value for o in Outcome}


def load_guides(directory: Path = GUIDES_DIR) -> dict[str, Guide]:
    """Every guide, by device category."""
    guides: dict[str, Guide] = {}
    for path in sorted(directory.glob("*.yml")):
        guide = load_guide(path)
        if guide.device in guides:
            raise GuideError(f"{path}: a second guide for {guide.device!r}")
        guides[guide.device] = guide
    return guides


def load_guide(path: Path) -> Guide:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        guide = _guide(data)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise GuideError(f"{path}: not a guide ({type(error).__name__}: {error})") from error
    problems = check(guide)
    if problems:
        raise GuideError(f"{path}: " + "; ".join(problems))
    return guide


def _guide(data: dict) -> Guide:
    steps = {
        str(step_id): Step(
            str(step_id),
            str(step["say"]),
            str(step.get("ask") or DEFAULT_QUESTION),
            {_label(answer): str(target) for answer, target in step["answers"].items()},
        )
        for step_id, step in data["steps"].items()
    }
    return Guide(
        str(data["device"]),
        str(data["title"]),
        tuple(str(s).lower() for s in data.get("symptoms") or ()),
        str(data["start"]),
        steps,
        {str(k): str(v) for k, v in (data.get("ends") or {}).items()},
    )


def _label(answer: object) -> str:
    # YAML 1.1 reads an unquoted Yes / No as a boolean.
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    return str(answer)


def check(guide: Guide) -> list[str]:
    """What is wrong with a guide: every step reachable, every answer leads somewhere,
    every path ends (no loops), and a guide a customer can follow (3 to 8 steps)."""
    problems = []
    if not MIN_STEPS <= len(guide.steps) <= MAX_STEPS:
        problems.append(f"{len(guide.steps)} steps (a guide has {MIN_STEPS} to {MAX_STEPS})")
    if guide.start not in guide.steps:
        return [*problems, f"start {guide.start!r} is not a step"]
    for step in guide.steps.values():
        if len(step.answers) < 1:
            problems.append(f"step {step.id!r} has no answers")
        for answer, target in step.answers.items():
            if target not in guide.steps and not guide.is_end(target):
                problems.append(f"step {step.id!r} answer {answer!r} leads to unknown {target!r}")
    reached: set[str] = set()

    def walk(step_id: str, path: tuple[str, ...]) -> None:
        if step_id in path:
            problems.append("a loop: " + " -> ".join((*path, step_id)))
            return
        reached.add(step_id)
        for target in guide.steps[step_id].answers.values():
            if target in guide.steps:
                walk(target, (*path, step_id))

    walk(guide.start, ())
    unreached = sorted(set(guide.steps) - reached)
    if unreached:
        problems.append(f"steps nobody reaches: {', '.join(unreached)}")
    used_ends = {t for s in guide.steps.values() for t in s.answers.values()}
    unused = sorted(set(guide.ends) - used_ends)
    if unused:
        problems.append(f"ends nobody reaches: {', '.join(unused)}")
    return problems
