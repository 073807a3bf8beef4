"""Every troubleshooting guide is one a customer can follow to an end."""

from __future__ import annotations

from pathlib import Path

import pytest

from troubleshooting.guides import GUIDES_DIR, Guide, GuideError, Outcome, load_guide, load_guides

GUIDES = load_guides()


def ends_reachable(guide: Guide) -> set[str]:
    ends: set[str] = set()
    todo, seen = [guide.start], set()
    while todo:
        step = guide.steps[todo.pop()]
        seen.add(step.id)
        for target in step.answers.values():
            if target in guide.steps:
                if target not in seen:
                    todo.append(target)
            else:
                ends.add(target)
    return ends


def test_the_shipped_guides_cover_the_devices_customers_ask_about() -> None:
    assert {"router", "laptop", "printer", "tv", "phone"} <= set(GUIDES)
    for path in GUIDES_DIR.glob("*.yml"):
        assert load_guide(path).device == path.stem


@pytest.mark.parametrize("device", sorted(GUIDES))
def test_each_guide_can_end_fixed_and_at_a_dead_end_that_books_or_hands_over(
    device: str,
) -> None:
    guide = GUIDES[device]
    assert 3 <= len(guide.steps) <= 8 and guide.symptoms
    ends = ends_reachable(guide)
    assert Outcome.FIXED in ends
    assert ends & {Outcome.REPAIR, Outcome.TECHNICIAN}, ends


BROKEN = {
    "unreached": ("start: a\nsteps:\n  a: {say: x, answers: {'Yes': fixed, 'No': b}}\n"
                  "  b: {say: y, answers: {'No': repair}}\n"
                  "  c: {say: z, answers: {'No': person}}\n",
                  "steps nobody reaches: c"),
    "dangling": ("start: a\nsteps:\n  a: {say: x, answers: {'No': b}}\n"
                 "  b: {say: y, answers: {'No': nowhere}}\n  c: {say: z, answers: {'No': a}}\n",
                 "leads to unknown 'nowhere'"),
    "loop": ("start: a\nsteps:\n  a: {say: x, answers: {'No': b}}\n"
             "  b: {say: y, answers: {'No': c}}\n  c: {say: z, answers: {'No': a, 'Yes': fixed}}\n",
             "a loop: a -> b -> c -> a"),
    "short": ("start: a\nsteps:\n  a: {say: x, answers: {'No': fixed}}\n", "1 steps"),
    "not yaml": ("start: [a\n", "not a guide"),
    "no steps": ("start: a\n", "not a guide"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_guide_is_refused_with_the_file_and_the_problem(tmp_path: Path, name: str) -> None:
    body, problem = BROKEN[name]
    path = tmp_path / "router.yml"
    path.write_text("device: router\ntitle: t\n" + body)
    with pytest.raises(GuideError) as refused:
        load_guide(path)
    assert str(path) in str(refused.value) and problem in str(refused.value)


def test_two_guides_for_one_device_are_refused(tmp_path: Path) -> None:
    for name in ("router.yml", "wifi.yml"):
        (tmp_path / name).write_text((GUIDES_DIR / "router.yml").read_text())
    with pytest.raises(GuideError, match="a second guide for 'router'"):
        load_guides(tmp_path)
