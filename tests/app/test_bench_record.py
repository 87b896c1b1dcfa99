"""A benchmark's `--record` replaces its own section of docs/benchmarks.md and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit.benchrecord import RunFacts, markers, render_section, replace_section

ROOT = Path(__file__).resolve().parents[2]
FACTS = RunFacts(
    date="2026-12-07 11:40 UTC",
    commit="abc1234",
    machine="2 cores, 23.4 GiB, AMD EPYC, Python 3.11.7",
    command="python -m bench.intake_cpu --events 300",
)


def section(name: str, *lines: str) -> str:
    return render_section(name, "Own CPU", FACTS, list(lines))


def test_rendered_section_names_the_run_and_holds_the_printed_lines() -> None:
    text = section("intake_cpu", "attio pipeline   0.09 ms  ", "zoho pipeline    0.09 ms")
    lines = text.splitlines()
    assert lines[0] == "<!-- bench:intake_cpu -->" and lines[-1] == "<!-- /bench:intake_cpu -->"
    assert "`python -m bench.intake_cpu --events 300`" in lines[1]
    assert lines[2] == f"{FACTS.date}, commit `abc1234`, {FACTS.machine}."
    assert lines[4:8] == ["```text", "attio pipeline   0.09 ms", "zoho pipeline    0.09 ms", "```"]


def test_a_printed_fence_gets_a_longer_fence_around_it() -> None:
    lines = section("load", "```", "x").splitlines()
    assert lines[4] == "````text" and lines[-2] == "````"


DOC = """# Benchmarks

## Load

Prose about the load benchmark, kept.

<!-- bench:load -->
old figures
<!-- /bench:load -->

## Zoho

<!-- bench:zoho_sync -->
zoho figures
<!-- /bench:zoho_sync -->

<!-- bench:zoho_sync.crm -->
crm figures
<!-- /bench:zoho_sync.crm -->
"""


@pytest.mark.parametrize(
    ("name", "kept", "gone"),
    [
        ("load", ["zoho figures", "crm figures"], "old figures"),
        ("zoho_sync", ["old figures", "crm figures"], "zoho figures"),
        ("zoho_sync.crm", ["old figures", "zoho figures"], "crm figures"),
    ],
)
def test_replaces_its_own_section_only(name: str, kept: list[str], gone: str) -> None:
    new = section(name, "new figures")
    updated = replace_section(DOC, name, new)
    assert new in updated and gone not in updated
    for text in [*kept, "Prose about the load benchmark, kept.", "## Zoho"]:
        assert text in updated
    start, end = markers(name)
    assert updated.count(start) == 1 and updated.count(end) == 1
    before, _, after = DOC.partition(markers(name)[0])
    assert updated.startswith(before)
    assert updated.endswith(after.partition(end)[2])


def test_replacing_twice_is_replacing_once() -> None:
    once = replace_section(DOC, "load", section("load", "a"))
    assert replace_section(once, "load", section("load", "a")) == once
    assert replace_section(once, "load", section("load", "b")) == replace_section(
        DOC, "load", section("load", "b")
    )


@pytest.mark.parametrize("document", ["", "# Benchmarks\n", "# Benchmarks", "# Benchmarks\n\n\n"])
def test_a_missing_section_is_appended_after_one_blank_line(document: str) -> None:
    new = section("billing_day.inline", "figures")
    updated = replace_section(document, "billing_day.inline", new)
    expected = f"{new}\n" if not document else f"# Benchmarks\n\n{new}\n"
    assert updated == expected


@pytest.mark.parametrize(
    "document",
    [
        "<!-- bench:load -->\nno end\n",
        "no start\n<!-- /bench:load -->\n",
        "<!-- /bench:load -->\nreversed\n<!-- bench:load -->\n",
        "<!-- bench:load -->\na\n<!-- /bench:load -->\n" * 2,
    ],
)
def test_broken_markers_are_refused_not_guessed(document: str) -> None:
    with pytest.raises(ValueError):
        replace_section(document, "load", section("load", "figures"))


def test_a_section_must_carry_its_own_markers() -> None:
    with pytest.raises(ValueError):
        replace_section(DOC, "load", section("zoho_sync", "figures"))


@pytest.mark.parametrize("name", ["", "Load", "load -->", "a b", "-load"])
def test_section_names_cannot_break_the_markers(name: str) -> None:
    with pytest.raises(ValueError):
        markers(name)


def test_every_benchmark_section_of_the_page_is_well_formed() -> None:
    """docs/benchmarks.md's markers pair up, so every `--record` can find its place."""
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    names = re.findall(r"<!-- bench:([a-z0-9][a-z0-9_.-]*) -->", page)  # not the prose's NAME
    assert names, "docs/benchmarks.md has no recorded sections"
    for name in names:
        replace_section(page, name, section(name, "figures"))  # raises on a broken pair
    assert len(re.findall(r"<!-- /bench:([a-z0-9][a-z0-9_.-]*) -->", page)) == len(names)


def test_every_benchmark_has_a_section_and_a_record_option() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for module in sorted((ROOT / "bench").glob("[a-z]*.py")):
        assert f"<!-- bench:{module.stem} -->" in page, module.stem
        assert "add_record_option(parser)" in module.read_text(), module.stem
