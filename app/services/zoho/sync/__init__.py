"""Backfill and reconciliation runs: Zoho's catalogue diffed against Attio's `services`.

    zoho.py      the engine (`ZohoServicesSync`)
    report.py    counts, live progress, the final report
    failures.py  failed items as `bridge_events` records, and the source that replays them
    runner.py    background runs for the admin API, one at a time per process
    progress.py  a progress bar on a terminal, structured log lines otherwise

Import from the modules: this package imports nothing itself, so the event layer can use
`failures.py` without loading the engine.
"""
