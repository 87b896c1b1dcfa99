"""Events in and out of the ledger: the normalized event, the sources that verify and parse
deliveries, the dispatcher, the processor (time budget, ledger on failure), the ledger of
failed events in Attio, and replays."""
