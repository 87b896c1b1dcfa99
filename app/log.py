"""structlog setup: JSON lines in production, a readable console in development.

Every line passes through `SecretRedactor`, so a configured secret never reaches the output even
if some code (ours or a library's) logs it by mistake. Standard-library loggers (uvicorn, httpx)
are routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from structlog.types import EventDict, Processor

REDACTED = "[redacted]"
# From this length a secret is redacted inside any text; shorter ones as whole tokens only.
SUBSTRING_SECRET_LENGTH = 8
# Keys whose values are credentials whatever they hold.
_SENSITIVE_KEY = re.compile(
    r"(authorization|api[_-]?key|secret|password|private[_-]?key|token)$", re.I
)
# Keys that merely mention a token but are safe to log (counts, ids, names).
_SAFE_KEYS = frozenset({"event_key", "idempotency_key", "token_type"})


class SecretRedactor:
    """Replaces known secret values (and values under credential-like keys) in every log line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        # A long secret is redacted wherever it appears; a short one only as a whole token
        # (not inside a longer word or number), so "abc1" hides "token=abc1" but not "abc12".
        alternatives = [
            re.escape(s) if len(s) >= SUBSTRING_SECRET_LENGTH else rf"(?<!\w){re.escape(s)}(?!\w)"
            for s in unique
        ]
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def redact(self, value: Any, key: str | None = None) -> Any:
        if key is not None and key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
            return REDACTED if value not in (None, "") else value
        if isinstance(value, str):
            return self._pattern.sub(REDACTED, value) if self._pattern else value
        if isinstance(value, Mapping):
            return {k: self.redact(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self.redact(v) for v in value]
        if isinstance(value, bytes):
            return self.redact(value.decode("utf-8", "replace"))
        return value

    def __call__(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        return {k: self.redact(v, k if k != "event" else None) for k, v in event_dict.items()}


redactor = SecretRedactor()


def configure_logging(
    level: str = "INFO", *, json: bool, secrets: Iterable[str] = (), access_log: bool = False
) -> None:
    redactor.set_secrets(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
        redactor,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        # Drop lines below the level before any processor runs: filtered logs cost nothing.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn installs its own handlers; route them through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # uvicorn writes an access line exactly when `uvicorn.access` has a handler, its parents'
    # included: without propagation it has none. Off unless ACCESS_LOG asks for it.
    logging.getLogger("uvicorn.access").propagate = access_log
    # httpx logs every request at INFO, including URLs; our client logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
