"""The bridge's settings for tests and benchmarks: every provider on, under made-up credentials.

`bridge_env` is the environment, for a bridge started as a process; `make_settings` builds
`Settings` from it for a bridge in-process. Both use the test credentials of `testkit.signing`.
"""

from __future__ import annotations

from typing import Any

from app.config import Settings
from testkit.signing import ATTIO_TEST_SECRET, BRAINTREE_TEST_CREDENTIALS, ZOHO_TEST_SECRET

ATTIO_TEST_API_KEY = "test-key-0123456789"
ADMIN_TOKEN = "admin-token-0123456789-abcdefghijkl"


def bridge_env(
    attio_base_url: str,
    *,
    attio_api_key: str = ATTIO_TEST_API_KEY,
    production: bool = False,
    braintree_port: int | None = None,
    zoho_crm: bool = True,
    admin_token: str | None = ADMIN_TOKEN,
    **env: str,
) -> dict[str, str]:
    """Settings variables with Attio at `attio_base_url`; `env` adds to or overrides them.

    - `production`: `BRIDGE_ENV=production` and INFO logs (JSON), as deployed;
    - `braintree_port`: Braintree's API is the loopback stand-in of `testkit.braintree_api`
      (the SDK's `development` environment is localhost:GATEWAY_PORT); without it, the SDK's
      sandbox environment, which an offline test never reaches;
    - `zoho_crm`: Zoho CRM notifications on (token and channel id);
    - `admin_token`: the admin API's token; None leaves the admin API off.
    """
    creds = BRAINTREE_TEST_CREDENTIALS
    variables = {
        "ATTIO_API_KEY": attio_api_key,
        "ATTIO_BASE_URL": attio_base_url,
        "ATTIO_WEBHOOK_SECRET": ATTIO_TEST_SECRET,
        "ZOHO_WEBHOOK_SECRET": ZOHO_TEST_SECRET,
        "BRAINTREE_ENVIRONMENT": creds["environment"],
        "BRAINTREE_MERCHANT_ID": creds["merchant_id"],
        "BRAINTREE_PUBLIC_KEY": creds["public_key"],
        "BRAINTREE_PRIVATE_KEY": creds["private_key"],
        # Braintree's silence check is on by default, and each delivery's time would add a
        # bookkeeping record to `bridge_events`: tests that count its records and writes
        # would see it. The watch tests turn it on.
        "WATCH_SILENCE_BRAINTREE": "off",
    }
    if production:
        variables |= {"BRIDGE_ENV": "production", "LOG_LEVEL": "INFO"}
    if braintree_port is not None:
        variables |= {"BRAINTREE_ENVIRONMENT": "development", "GATEWAY_PORT": str(braintree_port)}
    if zoho_crm:
        variables |= {"ZOHO_CRM_NOTIFY_TOKEN": "crm-token-0123456789", "ZOHO_CRM_CHANNEL_IDS": "77"}
    if admin_token is not None:
        variables["ADMIN_TOKEN"] = admin_token
    return {**variables, **env}


def make_settings(attio_base_url: str, **options: Any) -> Settings:
    """`Settings` from `bridge_env(attio_base_url, **options)`, ignoring any `.env` file."""
    return Settings(_env_file=None, **bridge_env(attio_base_url, **options))  # type: ignore[call-arg]
