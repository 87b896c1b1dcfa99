"""Alerts: a check that starts firing, changes severity or clears is told once to every
configured channel (Slack, a signed webhook, an Attio task)."""

from app.services.alerts.channels import (
    AttioTaskChannel,
    Channel,
    SignedWebhookChannel,
    SlackChannel,
)
from app.services.alerts.model import Alert, AlertState, Severity
from app.services.alerts.notifier import AlertOutcome, Finding, Notifier, StoredAlert

__all__ = [
    "Alert",
    "AlertOutcome",
    "AlertState",
    "AttioTaskChannel",
    "Channel",
    "Finding",
    "Notifier",
    "Severity",
    "SignedWebhookChannel",
    "SlackChannel",
    "StoredAlert",
]
