"""The OAuth scopes each Zoho call needs, so a refusal can say which one the token lacks.

Scope names are Zoho's: Books items sit under its "settings" scopes, Inventory has per-module
scopes, CRM has per-module record scopes and one for the Notification API.
"""

from __future__ import annotations

from app.clients.zoho.items import ItemsSource, items_path
from app.clients.zoho.watch import WATCH_PATH

CRM_PRODUCTS_PATH = "/crm/v8/Products"

# Path prefix → the scope (or scopes, any one of which is enough) a read there needs.
_SCOPES_BY_PREFIX: tuple[tuple[str, tuple[str, ...]], ...] = (
    (items_path(ItemsSource.books), ("ZohoBooks.settings.READ",)),
    (items_path(ItemsSource.inventory), ("ZohoInventory.items.READ",)),
    (CRM_PRODUCTS_PATH, ("ZohoCRM.modules.products.READ",)),
    (WATCH_PATH, ("ZohoCRM.notifications.ALL",)),
)


def scopes_for(path: str) -> tuple[str, ...]:
    """The scopes a call to `path` needs; empty for a path this table does not know."""
    for prefix, scopes in _SCOPES_BY_PREFIX:
        if path == prefix or path.startswith(prefix + "/"):
            return scopes
    return ()
