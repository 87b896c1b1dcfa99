"""`attio-bridge doctor`: live checks of every configured system, one row per check."""

from app.services.doctor.checks import (
    REQUIRED_ATTIO_SCOPES,
    check_attio,
    check_braintree,
    check_placeholders,
    check_zoho,
)
from app.services.doctor.report import Check, Report, Status

__all__ = [
    "REQUIRED_ATTIO_SCOPES",
    "Check",
    "Report",
    "Status",
    "check_attio",
    "check_braintree",
    "check_placeholders",
    "check_zoho",
]
