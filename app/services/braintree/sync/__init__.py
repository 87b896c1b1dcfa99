"""Backfill and reconciliation: Braintree's state diffed against Attio's billing records.

    engine.py    the diff-based run (`BraintreeSync`)
    values.py    comparing the values a run would write with a record's (pure)
    report.py    counts per object, live progress, the final report
    progress.py  a progress bar on a terminal, structured log lines otherwise

A record that failed is ledgered in `bridge_events`; `app.events.sources.braintree_sync`
rebuilds its event for `retry-due`, which fetches the object from Braintree again.
"""
