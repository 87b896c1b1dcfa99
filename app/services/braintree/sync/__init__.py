"""Backfill and reconciliation: Braintree's state diffed against Attio's billing records.

    engine.py    the diff-based run (`BraintreeSync`) on the shared sync pipeline
    index.py     what a run knows of Attio: its billing records, compacted, by Braintree id
    plans.py     what a Braintree object needs written (an `Op`), by the webhook path's rules
    links.py     the person and subscription references a write carries
    report.py    counts per object, live progress, the final report
    progress.py  a progress bar on a terminal, structured log lines otherwise

A record that failed is ledgered in `bridge_events`; `app.events.sources.braintree_sync`
rebuilds its event for `retry-due`, which fetches the object from Braintree again.
"""
