"""`--record`: a benchmark writes what it printed into its own section of docs/benchmarks.md.

Every benchmark's main adds the option with `add_record_option(parser)` and runs its printing
inside `recording(name, title, enabled=args.record)`. Whatever it prints still goes to the
terminal; when the run ends without an error and `--record` was given, the same lines replace
the section `<!-- bench:NAME -->` ... `<!-- /bench:NAME -->` of docs/benchmarks.md (appended at
the end when it is not there yet), headed by the date (UTC), the commit (short hash, `-dirty`
when the tree has changes other than to docs/benchmarks.md itself) and the machine (cores,
memory, CPU model, Python version). Lines naming a temporary directory (process logs) are left
out of the page.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from testkit.benchrecord import RunFacts, render_section, replace_section

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"


def add_record_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write the printed figures into this benchmark's section of docs/benchmarks.md",
    )


def record(name: str, title: str, lines: list[str], page: Path = PAGE) -> None:
    """Replace section `name` of `page` with `lines`, headed by this run's facts."""
    section = render_section(name, title, run_facts(), lines)
    page.write_text(replace_section(page.read_text(), name, section))
    print(f"recorded in {page.relative_to(ROOT)} (section {name})", file=sys.stderr)


@contextlib.contextmanager
def recording(name: str, title: str, *, enabled: bool) -> Iterator[None]:
    """Print as usual; with `enabled`, record what was printed once the block succeeds."""
    if not enabled:
        yield
        return
    copy = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, copy)):
        yield
    temporary = tempfile.gettempdir()
    lines = [line for line in copy.getvalue().splitlines() if temporary not in line]
    record(name, title, lines)


def run_facts() -> RunFacts:
    command = " ".join(["python -m", _module(), *map(shlex.quote, sys.argv[1:])])
    return RunFacts(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
        machine=_machine(),
        command=command,
    )


def _module() -> str:
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def _git(*args: str) -> str:
    """git's answer in the checkout, or "" without git or outside a checkout."""
    git = shutil.which("git")
    if git is None:
        return ""
    done = subprocess.run(  # noqa: S603 - git found on PATH, fixed arguments
        [git, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    # The page itself changes with every recorded run: that is not a change to what was measured.
    changes = _git("status", "--porcelain", "--", ".", f":(exclude){PAGE.relative_to(ROOT)}")
    return f"{commit}-dirty" if changes else commit


def _machine() -> str:
    cores = os.cpu_count() or 0
    memory = _meminfo_gib()
    memory_text = f", {memory:.1f} GiB" if memory else ""
    return f"{cores} cores{memory_text}, {_cpu_model()}, Python {platform.python_version()}"


def _meminfo_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    return None


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, terminal: TextIO, copy: io.StringIO) -> None:
        self._terminal, self._copy = terminal, copy

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._terminal.write(text)

    def flush(self) -> None:
        self._terminal.flush()
