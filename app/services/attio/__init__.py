"""Attio record events in: CRM edits that reach billing, merges, deletions, echo safety."""

from app.services.attio.handlers import AttioEventService
from app.services.attio.replays import ReplayRequests

__all__ = ["AttioEventService", "ReplayRequests"]
