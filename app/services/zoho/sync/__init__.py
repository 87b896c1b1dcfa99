"""Backfill and reconciliation runs: Zoho's catalogue diffed against Attio's `services`.

    engine.py    the diff-based run (`ZohoServicesSync`)
    report.py    counts, live progress, the final report
    runner.py    background runs for the admin API, one at a time per process
    progress.py  a progress bar on a terminal, structured log lines otherwise

A failed item is recorded in `bridge_events`; `app.events.sources.zoho_sync` rebuilds its
event for replays, which re-fetch the item from Zoho.
"""
