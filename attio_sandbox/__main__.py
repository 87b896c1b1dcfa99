"""`python -m attio_sandbox`: serve the Attio sandbox on a port."""

from __future__ import annotations

import argparse

from attio_sandbox.app import serve
from attio_sandbox.config import FaultConfig, SandboxConfig, WebhookConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attio_sandbox", description="In-memory emulation of Attio's REST v2 API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--api-key", help="only accept this bearer token (default: any)")
    limits = parser.add_argument_group("rate limits")
    limits.add_argument("--write-rate", type=int, default=25, help="writes per window")
    limits.add_argument("--read-rate", type=int, default=100, help="reads per window")
    limits.add_argument("--rate-window", type=float, default=1.0, help="window in seconds")
    limits.add_argument("--no-rate-limits", action="store_true", help="never answer 429")
    faults = parser.add_argument_group("latency and faults (rates are probabilities 0..1)")
    faults.add_argument("--latency-ms", type=float, default=0.0)
    faults.add_argument("--jitter-ms", type=float, default=0.0)
    faults.add_argument("--seed", type=int, help="make injected faults reproducible")
    faults.add_argument("--error-rate", type=float, default=0.0, help="500/502/503 answers")
    faults.add_argument("--timeout-rate", type=float, default=0.0, help="held, then 504")
    faults.add_argument("--timeout-seconds", type=float, default=30.0)
    faults.add_argument("--burst-rate", type=float, default=0.0, help="start a 429 burst")
    faults.add_argument("--burst-seconds", type=float, default=1.0)
    faults.add_argument("--conflict-rate", type=float, default=0.0, help="409 on writes")
    faults.add_argument(
        "--after-write", action="store_true", help="errors and timeouts strike after writes apply"
    )
    faults.add_argument("--fault-methods", nargs="+", help="only these HTTP methods get faults")
    faults.add_argument("--fault-path", help="only paths matching this regex get faults")
    webhooks = parser.add_argument_group("webhook deliveries")
    webhooks.add_argument(
        "--webhook-secret", help="sign with this secret instead of one generated per webhook"
    )
    webhooks.add_argument(
        "--webhook-retry-delays",
        type=float,
        nargs="*",
        metavar="SECONDS",
        help="seconds before each retry of a non-2xx delivery (default: ~3 days' worth)",
    )
    webhooks.add_argument("--webhook-batch-size", type=int, default=1, help="events per delivery")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    fault_config = FaultConfig(
        rate_limits=not args.no_rate_limits,
        write_rate=args.write_rate,
        read_rate=args.read_rate,
        rate_window_seconds=args.rate_window,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.jitter_ms,
        seed=args.seed,
        server_error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        timeout_seconds=args.timeout_seconds,
        burst_rate=args.burst_rate,
        burst_seconds=args.burst_seconds,
        conflict_rate=args.conflict_rate,
        after_write=args.after_write,
        fault_methods=args.fault_methods,
        fault_path_regex=args.fault_path,
    )
    webhook_config = WebhookConfig(secret=args.webhook_secret, batch_size=args.webhook_batch_size)
    if args.webhook_retry_delays is not None:
        webhook_config.retry_delays = tuple(args.webhook_retry_delays)
    config = SandboxConfig(api_key=args.api_key, faults=fault_config, webhooks=webhook_config)
    serve(args.host, args.port, config)


if __name__ == "__main__":
    main()
