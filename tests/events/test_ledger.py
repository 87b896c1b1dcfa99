"""The ledger's retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.events.ledger import RetrySchedule


def test_retry_schedule_steps_then_dead() -> None:
    schedule = RetrySchedule((60, 300))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.next_attempt_at(1, now) == now + timedelta(seconds=60)
    assert schedule.next_attempt_at(2, now) == now + timedelta(seconds=300)
    assert schedule.next_attempt_at(3, now) is None
