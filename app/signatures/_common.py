"""Small pieces shared by the provider verifiers."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Explicit ASCII class: `\w`/`\d` would also accept non-ASCII digits.
HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def header_value(headers: Mapping[str, str], *names: str) -> str | None:
    """First non-blank value among `names`, in order of preference, matched case-insensitively.

    Works for a plain dict (e.g. headers stored for replay) as well as Starlette's `Headers`,
    whose `items()` yields every occurrence of a repeated header.
    """
    items = list(headers.items())
    for name in names:
        wanted = name.lower()
        for key, value in items:
            if key.lower() == wanted and value and value.strip():
                return value
    return None
