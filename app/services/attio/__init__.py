"""Attio record events in: CRM edits that reach billing, merges, deletions, echo safety."""

from app.services.attio.handlers import AttioEventService

__all__ = ["AttioEventService"]
