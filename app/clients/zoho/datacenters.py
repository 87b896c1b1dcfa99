"""Zoho data centres: which API domain goes with which accounts server.

Tokens are minted per data centre, and calling another centre's API with them fails with
`INVALID_TOKEN`. The token response's `api_domain` names the right host; this table is the
fallback when it is missing, and the allow-list that keeps the token from being sent anywhere
that is not Zoho. An accounts server not in it is a configuration error, never a silent
fallback to the US data centre (whose API would refuse the token anyway).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.errors import ConfigurationError

# Accounts host → API domain, per Zoho's multi-DC tables (accounts and API docs). Canada's
# accounts server is `zohocloud.ca`, not `zoho.ca`.
API_DOMAIN_BY_ACCOUNTS_HOST: dict[str, str] = {
    "accounts.zoho.com": "https://www.zohoapis.com",
    "accounts.zoho.eu": "https://www.zohoapis.eu",
    "accounts.zoho.in": "https://www.zohoapis.in",
    "accounts.zoho.com.au": "https://www.zohoapis.com.au",
    "accounts.zoho.jp": "https://www.zohoapis.jp",
    "accounts.zohocloud.ca": "https://www.zohoapis.ca",
    "accounts.zoho.sa": "https://www.zohoapis.sa",
    "accounts.zoho.com.cn": "https://www.zohoapis.com.cn",
    "accounts.zoho.uk": "https://www.zohoapis.uk",
    "accounts.zoho.ae": "https://www.zohoapis.ae",
}

# Host suffixes Zoho serves its APIs from (`zohoapiscloud.ca` is seen for Canada too).
_ZOHO_API_SUFFIXES = (
    ".zohoapis.com",
    ".zohoapis.eu",
    ".zohoapis.in",
    ".zohoapis.com.au",
    ".zohoapis.jp",
    ".zohoapis.ca",
    ".zohoapiscloud.ca",
    ".zohoapis.sa",
    ".zohoapis.com.cn",
    ".zohoapis.uk",
    ".zohoapis.ae",
)


def known_accounts_servers() -> list[str]:
    return [f"https://{host}" for host in API_DOMAIN_BY_ACCOUNTS_HOST]


def api_domain_for_accounts(accounts_url: str) -> str | None:
    """The API domain of the data centre whose accounts server is `accounts_url`, if known."""
    host = (urlsplit(accounts_url).hostname or "").lower()
    return API_DOMAIN_BY_ACCOUNTS_HOST.get(host)


def check_data_centre(accounts_url: str, api_base_url: str | None) -> None:
    """Refuse an accounts server of no known data centre unless the API URL is set explicitly."""
    if api_base_url or api_domain_for_accounts(accounts_url) is not None:
        return
    raise ConfigurationError(
        f"ZOHO_ACCOUNTS_URL={accounts_url} is not the accounts server of a Zoho data centre "
        f"the bridge knows ({', '.join(known_accounts_servers())}). Fix ZOHO_ACCOUNTS_URL, "
        "or set ZOHO_API_BASE_URL to your data centre's API domain "
        "(e.g. https://www.zohoapis.eu)."
    )


def trusted_api_domain(value: object) -> str | None:
    """`value` as a bare https origin when it is a Zoho API host, else None."""
    if not isinstance(value, str) or not value:
        return None
    parts = urlsplit(value.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    if not any(host.endswith(suffix) or host == suffix[1:] for suffix in _ZOHO_API_SUFFIXES):
        return None
    return f"https://{parts.netloc.lower()}"
