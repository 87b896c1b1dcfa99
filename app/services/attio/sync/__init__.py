"""The Attio → Braintree catch-up: contact edits Attio did not deliver, sent to Braintree.

    compare.py   which contact fields Attio holds newer than the Braintree customer (pure)
    engine.py    the run (`AttioCatchUp`) on the shared sync pipeline
    report.py    counts, live progress, the final report
    progress.py  a progress bar on a terminal, structured log lines otherwise

A person the run failed on is ledgered in `bridge_events`; `app.events.sources.attio_sync`
rebuilds its event for replays, which read the person and the customer again.
"""
