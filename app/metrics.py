"""Prometheus metrics, served at /metrics.

One registry per process (each Render instance runs one worker). Labels stay low-cardinality:
sources and event types are provider enums, Attio calls are labelled by method, not path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "bridge_events_total",
    "Webhook events by source, type and outcome (received, processed, failed, ignored).",
    ["source", "event_type", "outcome"],
    registry=REGISTRY,
)
SIGNATURE_FAILURES = Counter(
    "bridge_signature_failures_total",
    "Requests rejected because their signature did not verify.",
    ["source"],
    registry=REGISTRY,
)
REJECTED_REQUESTS = Counter(
    "bridge_rejected_requests_total",
    "Webhook requests rejected before processing, by source and HTTP status.",
    ["source", "status"],
    registry=REGISTRY,
)
ATTIO_REQUESTS = Counter(
    "bridge_attio_requests_total",
    "Attio API calls by method and outcome (2xx, 4xx, 429, 5xx, transport_error).",
    ["method", "outcome"],
    registry=REGISTRY,
)
ATTIO_LATENCY = Histogram(
    "bridge_attio_request_seconds",
    "Attio API call latency (one attempt).",
    ["method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
ATTIO_RETRIES = Counter(
    "bridge_attio_retries_total",
    "Attio API calls retried, by the error that caused the retry.",
    ["error"],
    registry=REGISTRY,
)
UNPLACED_EVENTS = Counter(
    "bridge_unplaced_events_total",
    "Braintree payments and disputes of no subscription, which the layout without a payments "
    "object has no record for (ATTIO_PAYMENTS_OBJECT=false).",
    ["event_type"],
    registry=REGISTRY,
)

UNKNOWN_STATUSES = Counter(
    "bridge_braintree_unknown_statuses_total",
    "Braintree statuses with no Attio select option, so not written (the schema needs one).",
    ["object", "status"],
    registry=REGISTRY,
)

STALE_EVENTS = Counter(
    "bridge_stale_events_total",
    "Events older than the state already in Attio (their state change was skipped).",
    ["source", "event_type"],
    registry=REGISTRY,
)
REQUEST_OWN_SECONDS = Histogram(
    "bridge_request_own_seconds",
    "Time the bridge spent on a request besides waiting on Attio, by route.",
    ["route"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)

# -- queue mode (REDIS_URL) ------------------------------------------------------------------
# The gauges describe the shared stream, not this process: they are refreshed when /metrics is
# scraped and by each worker as it runs.
QUEUE_DEPTH = Gauge(
    "bridge_queue_depth",
    "Queued deliveries not yet acknowledged (unread plus taken by a worker).",
    registry=REGISTRY,
)
QUEUE_PENDING = Gauge(
    "bridge_queue_pending",
    "Queued deliveries taken by a worker and not yet acknowledged.",
    registry=REGISTRY,
)
QUEUE_OLDEST_AGE = Gauge(
    "bridge_queue_oldest_age_seconds",
    "Age of the oldest queued delivery not yet acknowledged (0 when the queue is empty).",
    registry=REGISTRY,
)
QUEUE_ENQUEUED = Counter(
    "bridge_queue_enqueued_total",
    "Deliveries and replays appended to the queue, by channel.",
    ["channel"],
    registry=REGISTRY,
)
QUEUE_RECLAIMED = Counter(
    "bridge_queue_reclaimed_total",
    "Queued deliveries taken over from a worker that did not acknowledge them in time.",
    registry=REGISTRY,
)
QUEUE_FALLBACKS = Counter(
    "bridge_queue_inline_fallbacks_total",
    "Deliveries processed inline because Redis was unreachable.",
    registry=REGISTRY,
)
QUEUE_GIVEN_UP = Counter(
    "bridge_queue_given_up_total",
    "Queued deliveries put in the ledger instead of processed: unverifiable at the worker "
    "(poison) or delivered QUEUE_MAX_DELIVERIES times (exhausted).",
    ["reason"],
    registry=REGISTRY,
)
ATTIO_LIMITER_WAIT = Histogram(
    "bridge_attio_limiter_wait_seconds",
    "Time an Attio call waited for its start in the rate limiter (shared in Redis or in-process), "
    "by bucket (reads, writes).",
    ["bucket"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
DELIVERIES_SHED = Counter(
    "bridge_deliveries_shed_total",
    "Webhook deliveries not processed because the Attio write budget could not start them in "
    "time: refused with 503 and Retry-After, or (Zoho, which does not redeliver) recorded in the "
    "ledger for the retry job.",
    ["source"],
    registry=REGISTRY,
)
