"""Zoho -> Attio service offerings: webhooks, CRM notifications, backfill and reconciliation.

service.py     `ZohoService`: the handlers, the writer and the sync runner, wired once
handlers.py    dispatcher handlers for item webhooks, CRM notifications and sync replays
transforms.py  pure: Zoho item / CRM product <-> the comparable `ServiceState` <-> Attio
writer.py      writes one service to Attio (stale-guarded, per-record lock)
sync/          the diff-based backfill and reconciliation, its report and background runs
"""

from app.services.zoho.service import ZohoService

__all__ = ["ZohoService"]
