"""Where the service catalogue lives in Zoho's finance apps: Books or Inventory items."""

from __future__ import annotations

from enum import StrEnum

# Zoho's default and largest page for the items list.
ITEMS_PAGE_SIZE = 200


class ItemsSource(StrEnum):
    books = "books"
    inventory = "inventory"


_ITEMS_PATHS = {
    ItemsSource.books: "/books/v3/items",
    ItemsSource.inventory: "/inventory/v1/items",
}


def items_path(source: ItemsSource) -> str:
    return _ITEMS_PATHS[ItemsSource(source)]
