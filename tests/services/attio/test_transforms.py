"""Pure transforms of Attio records, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.attio.transforms import companies_in_history


def company(target: str, until: str | None) -> dict[str, Any]:
    return {"target_record_id": target, "active_until": until}


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], []),
        ([company("acme", None)], ["acme"]),
        # Left acme for globex: both, the current one first.
        ([company("acme", "2026-12-01T10:00:00Z"), company("globex", None)], ["globex", "acme"]),
        # Unlinked: the company left alone.
        ([company("acme", "2026-12-01T10:00:00Z")], ["acme"]),
        # Back and forth: each company once, the most recent left first.
        (
            [
                company("acme", "2026-11-01T10:00:00Z"),
                company("globex", "2026-12-01T10:00:00Z"),
                company("acme", None),
            ],
            ["acme", "globex"],
        ),
        # Only the three most recent companies left count.
        (
            [company(f"c{n}", f"2026-0{n}-01T00:00:00Z") for n in range(1, 6)],
            ["c5", "c4", "c3"],
        ),
    ],
)
def test_the_companies_a_move_recomputes(
    history: list[dict[str, Any]], expected: list[str]
) -> None:
    assert companies_in_history(history) == expected
