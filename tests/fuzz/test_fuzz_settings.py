"""CI runs reproducible fuzz examples, as docs/testing.md says."""

from __future__ import annotations

import os

from hypothesis import settings


def test_examples_are_seeded_exactly_when_ci_is_set() -> None:
    assert settings.default.derandomize is bool(os.environ.get("CI"))
