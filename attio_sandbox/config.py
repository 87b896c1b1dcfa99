"""Settings for the sandbox: what it is (`SandboxConfig`), how it misbehaves (`FaultConfig`) and
how it sends webhooks (`WebhookConfig`).

`FaultConfig` and `WebhookConfig` are validated on every assignment because tests and benchmarks
change them at runtime (`state.faults.server_error_rate = 0.2`), and a typo there should fail
loudly, not silently disable the behaviour being tested.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Fixed identifiers keep sandbox output stable across runs, so logs and fixtures can name them.
DEFAULT_WORKSPACE_ID = "5f1c0b6e-7d0a-4a53-9a59-5ad6b0a7a001"
DEFAULT_ACTOR_ID = "8e2d4c1a-3b5f-4e6d-8a7b-9c0d1e2f3a4b"
DEFAULT_WORKSPACE_MEMBER_ID = "2b7e3f90-6c1d-4d8e-9f0a-1b2c3d4e5f60"
DEFAULT_CLIENT_ID = "c4a8e0d2-9b1f-4c3e-8d5a-7f6e5d4c3b2a"

# What a token for the bridge is granted; `/v2/self` reports it. Scopes are not enforced.
DEFAULT_SCOPES = (
    "record_permission:read-write",
    "object_configuration:read-write",
    "list_entry:read-write",
    "list_configuration:read-write",
    "webhook:read-write",
    "user_management:read",
)


_SERVER_ERROR_STATUSES: tuple[Literal[500, 502, 503], ...] = (500, 502, 503)


class FaultConfig(BaseModel):
    """Rate limits, latency and injected failures. Every field can be changed at runtime."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # Attio's documented limits: sliding one-second windows per class of call.
    rate_limits: bool = True
    write_rate: int = Field(25, ge=1)
    read_rate: int = Field(100, ge=1)
    rate_window_seconds: float = Field(1.0, gt=0)

    # Added to every /v2 call that passes auth and rate limits: uniform in mean +/- jitter.
    latency_ms: float = Field(0.0, ge=0)
    latency_jitter_ms: float = Field(0.0, ge=0)

    # None draws a fresh seed; a number makes every injected fault reproducible.
    seed: int | None = None

    server_error_rate: float = Field(0.0, ge=0, le=1)
    server_error_statuses: list[Literal[500, 502, 503]] = Field(
        default_factory=lambda: list(_SERVER_ERROR_STATUSES), min_length=1
    )
    timeout_rate: float = Field(0.0, ge=0, le=1)
    timeout_seconds: float = Field(30.0, ge=0)
    # Probability that a call starts a burst; during a burst every /v2 call gets 429.
    burst_rate: float = Field(0.0, ge=0, le=1)
    burst_seconds: float = Field(1.0, gt=0)
    # 409 concurrent_write_conflict, writes only.
    conflict_rate: float = Field(0.0, ge=0, le=1)
    # Server errors and timeouts on writes strike after the write was applied, so the client
    # sees a failure although the change happened (what idempotent retries must survive).
    after_write: bool = False

    # Faults strike only calls matching both filters (None matches everything).
    fault_methods: list[str] | None = None
    fault_path_regex: str | None = None


def attio_retry_delays() -> tuple[float, ...]:
    """Ten retries with exponential back-off over about three days, as Attio describes them.

    Attio publishes the count and the total span, not the delays: doubling from four minutes
    is the sandbox's assumption (4 min + 8 min + ... + about 34 h = about 2.8 days).
    """
    return tuple(240.0 * 2**attempt for attempt in range(10))


class WebhookConfig(BaseModel):
    """How webhook deliveries are sent. Every field can be changed at runtime."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # Seconds before retry 1, 2, ... of a delivery answered with a non-2xx status (or none);
    # after the last one the delivery has failed and its webhook is marked degraded.
    retry_delays: tuple[float, ...] = Field(default_factory=attio_retry_delays)
    # Events per delivery. Attio sends one today and reserves the right to batch.
    batch_size: int = Field(1, ge=1)
    # How long one attempt may take before it counts as failed (Attio documents none).
    timeout_seconds: float = Field(10.0, gt=0)
    # Every webhook created gets this secret instead of a random one, so a receiver configured
    # before the webhook exists (a bridge started with ATTIO_WEBHOOK_SECRET) can verify it.
    secret: str | None = Field(None, min_length=1)
    # Attio only accepts https target URLs; plain http is allowed for these hosts so a receiver
    # on loopback can be reached without TLS.
    http_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    # The User-Agent of Attio's deliveries as its older webhook reference showed it.
    user_agent: str = "Attio 2.0 (https://attio.com/developers/using-webhooks)"

    @field_validator("retry_delays")
    @classmethod
    def _non_negative(cls, delays: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in delays):
            raise ValueError("retry delays must not be negative")
        return delays


class WorkspaceMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    first_name: str
    last_name: str
    email_address: str
    access_level: str = "admin"

    def render(self, workspace_id: str, created_at: str) -> dict[str, Any]:
        return {
            "id": {"workspace_id": workspace_id, "workspace_member_id": self.id},
            "first_name": self.first_name,
            "last_name": self.last_name,
            "avatar_url": None,
            "email_address": self.email_address,
            "created_at": created_at,
            "access_level": self.access_level,
        }


class SandboxConfig(BaseModel):
    """Identity of the emulated workspace and token, plus the initial fault and webhook settings."""

    model_config = ConfigDict(extra="forbid")

    # None accepts any non-empty bearer token.
    api_key: str | None = None
    token_actor_id: str = DEFAULT_ACTOR_ID
    workspace_id: str = DEFAULT_WORKSPACE_ID
    workspace_slug: str = "sandbox"
    workspace_name: str = "Attio Sandbox"
    workspace_member_id: str = DEFAULT_WORKSPACE_MEMBER_ID
    client_id: str = DEFAULT_CLIENT_ID
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    faults: FaultConfig = Field(default_factory=FaultConfig)
    # After a merge, reading the new record answers 404 `merge_in_progress` this long (Attio
    # applies a merge asynchronously: its merge call answers 202 while it is still running).
    merge_in_progress_seconds: float = Field(0.0, ge=0)
    # Objects the workspace's plan allows, People and Companies included (Attio: 3 on Free,
    # 5 on Plus, 12 on Pro, unlimited on Enterprise). None: unlimited.
    max_objects: int | None = Field(None, ge=2)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    # `/v2/workspace_members`: the token's authorizer (`workspace_member_id`) by default.
    workspace_members: tuple[WorkspaceMember, ...] = (
        WorkspaceMember(
            id=DEFAULT_WORKSPACE_MEMBER_ID,
            first_name="Sandbox",
            last_name="Operator",
            email_address="operator@sandbox.test",
        ),
    )
