"""Deciding which call fails, and how, from `FaultConfig` and one seedable RNG.

Every random draw (latency jitter included) comes from the same RNG, so a fixed seed and the same
sequence of calls reproduce the same failures.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum

from attio_sandbox.config import FaultConfig
from attio_sandbox.requestlog import CallKind


class FaultKind(StrEnum):
    RATE_LIMIT_BURST = "rate_limit_burst"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    status: int
    # For a burst: when (monotonic) it ends, which is what Retry-After announces.
    until: float | None = None


_UNSEEDED = object()


class FaultInjector:
    def __init__(self) -> None:
        self._rng = random.Random()
        self._seed: object = _UNSEEDED
        self._burst_until: float | None = None

    def reseed(self, seed: int | None) -> None:
        self._rng.seed(seed)
        self._seed = seed

    def _random(self, config: FaultConfig) -> random.Random:
        # Seeding lazily lets tests assign `faults.seed` directly and still get reproducibility.
        if config.seed != self._seed:
            self.reseed(config.seed)
        return self._rng

    def end_burst(self) -> None:
        self._burst_until = None

    def burst_until(self, now: float) -> float | None:
        """End (monotonic) of the 429 burst in progress, if one is."""
        if self._burst_until is not None and now >= self._burst_until:
            self._burst_until = None
        return self._burst_until

    def latency_seconds(self, config: FaultConfig) -> float:
        if config.latency_ms <= 0 and config.latency_jitter_ms <= 0:
            return 0.0
        jitter = config.latency_jitter_ms
        millis = config.latency_ms
        if jitter > 0:
            millis += self._random(config).uniform(-jitter, jitter)
        return max(0.0, millis) / 1000

    @staticmethod
    def applies(config: FaultConfig, method: str, path: str) -> bool:
        if config.fault_methods is not None and method.upper() not in {
            m.upper() for m in config.fault_methods
        }:
            return False
        return (
            config.fault_path_regex is None or re.search(config.fault_path_regex, path) is not None
        )

    def draw(self, config: FaultConfig, kind: CallKind, now: float) -> Fault | None:
        """At most one fault for this call; a drawn burst also starts the burst window."""
        rng = self._random(config)
        if config.burst_rate and rng.random() < config.burst_rate:
            self._burst_until = now + config.burst_seconds
            return Fault(FaultKind.RATE_LIMIT_BURST, 429, until=self._burst_until)
        if config.server_error_rate and rng.random() < config.server_error_rate:
            return Fault(FaultKind.SERVER_ERROR, rng.choice(config.server_error_statuses))
        if config.timeout_rate and rng.random() < config.timeout_rate:
            return Fault(FaultKind.TIMEOUT, 504)
        if kind == "write" and config.conflict_rate and rng.random() < config.conflict_rate:
            return Fault(FaultKind.CONFLICT, 409)
        return None

    def clear(self) -> None:
        self._seed = _UNSEEDED
        self._burst_until = None
