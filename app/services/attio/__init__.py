"""Attio record events in: CRM edits that reach billing, merges, deletions, echo safety."""
