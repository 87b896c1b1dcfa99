"""Zoho client: OAuth token handling, Books/Inventory items, CRM products and channels."""

from app.clients.zoho.auth import AccessToken, ZohoTokenManager
from app.clients.zoho.client import (
    CRM_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE,
    ZohoClient,
    check_zoho_settings,
    zoho_configured,
)
from app.clients.zoho.datacenters import (
    API_DOMAIN_BY_ACCOUNTS_HOST,
    api_domain_for_accounts,
    check_data_centre,
)
from app.clients.zoho.errors import (
    ZohoAPIError,
    ZohoAuthError,
    ZohoError,
    ZohoNotConfiguredError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoScopeError,
    ZohoServerError,
    ZohoTokenError,
    ZohoTokenThrottledError,
    ZohoTransportError,
)
from app.clients.zoho.items import ITEMS_PAGE_SIZE, ItemsSource
from app.clients.zoho.scopes import scopes_for
from app.clients.zoho.watch import WatchChannel, WatchResult

__all__ = [
    "API_DOMAIN_BY_ACCOUNTS_HOST",
    "CRM_PAGE_SIZE",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "ITEMS_PAGE_SIZE",
    "AccessToken",
    "ItemsSource",
    "WatchChannel",
    "WatchResult",
    "ZohoAPIError",
    "ZohoAuthError",
    "ZohoClient",
    "ZohoError",
    "ZohoNotConfiguredError",
    "ZohoNotFoundError",
    "ZohoRateLimitError",
    "ZohoScopeError",
    "ZohoServerError",
    "ZohoTokenError",
    "ZohoTokenManager",
    "ZohoTokenThrottledError",
    "ZohoTransportError",
    "api_domain_for_accounts",
    "check_data_centre",
    "check_zoho_settings",
    "scopes_for",
    "zoho_configured",
]
