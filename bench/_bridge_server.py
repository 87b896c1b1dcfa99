"""The bridge under uvicorn, with a stand-in handler for Attio record events.

Until Attio record events have their own service, benchmarks need a handler that costs what
one will: fetch the record the event names (Attio webhooks carry ids only).
"""

from __future__ import annotations

import argparse

import uvicorn

from app.events.dispatcher import Dispatcher
from app.events.model import Source, WebhookEvent
from app.main import create_app


def build():
    app = create_app()
    bridge = app.state.bridge
    attio = bridge.attio_client
    # The real Attio handlers return early for the benchmark's synthetic ids; a dispatcher of
    # its own makes every event cost exactly the one read it is meant to.
    bridge.processor.dispatcher = Dispatcher()

    async def fetch_record(event: WebhookEvent) -> None:
        ids = event.payload["id"]
        await attio.get_record(ids["object_id"], ids["record_id"])

    bridge.processor.dispatcher.register(Source.attio, "record.*", fetch_record)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(build(), host="127.0.0.1", port=port, log_config=None, access_log=False)
