"""A benchmark's own section of docs/benchmarks.md: rendered and replaced, nothing else.

Each benchmark's `--record` writes what it printed between two HTML comment markers,
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, so a new run replaces its previous figures
and leaves the rest of the page (the prose, the other benchmarks' sections) as it was. A
section that is not there yet is appended at the end of the page. This module is pure text;
`bench/_record.py` adds the facts of the run (date, commit, machine) and the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


@dataclass(frozen=True)
class RunFacts:
    """Where and when the figures were measured, as printed above them."""

    date: str  # "2026-12-07 11:40 UTC"
    commit: str  # short hash, "-dirty" appended when the tree had changes
    machine: str  # "2 cores, 23.4 GiB, AMD EPYC, Python 3.11.7"
    command: str  # "python -m bench.zoho_sync --items 200"


def markers(name: str) -> tuple[str, str]:
    """The opening and closing marker of section `name`."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"section name {name!r}: lower-case letters, digits, '_', '.', '-'")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def render_section(name: str, title: str, facts: RunFacts, lines: Sequence[str]) -> str:
    """The whole section, markers included, without a trailing newline."""
    start, end = markers(name)
    printed = "\n".join(line.rstrip() for line in lines).strip("\n")
    fence = "````" if "```" in printed else "```"
    return "\n".join(
        [
            start,
            f"**{title}**, recorded with `{facts.command}`:",
            f"{facts.date}, commit `{facts.commit}`, {facts.machine}.",
            "",
            f"{fence}text",
            printed,
            fence,
            end,
        ]
    )


def replace_section(document: str, name: str, section: str) -> str:
    """`document` with section `name` replaced by `section`, or `section` appended.

    `section` must carry the markers of `name` (as `render_section` makes it). A document with
    one marker and not the other, or a section twice, is refused rather than guessed at.
    """
    start, end = markers(name)
    if not (section.startswith(start) and section.endswith(end)):
        raise ValueError(f"the section does not start with {start} and end with {end}")
    starts, ends = document.count(start), document.count(end)
    if starts != ends or starts > 1:
        raise ValueError(f"{start}: {starts} opening and {ends} closing markers, expected 1 and 1")
    if starts == 0:
        kept = document.rstrip("\n")
        return f"{kept}\n\n{section}\n" if kept else f"{section}\n"
    head, rest = document.split(start, 1)
    if end not in rest:
        raise ValueError(f"{end} comes before {start}")
    _, tail = rest.split(end, 1)
    return f"{head}{section}{tail}"
