"""Zoho item / CRM product → service state → Attio values, table by table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.errors import MalformedPayloadError
from app.services.zoho.model import SERVICE_ATTRIBUTES, ServiceState, ServiceStatus, ZohoOrigin
from app.services.zoho.transforms import (
    attio_values,
    changed_attributes,
    is_stale,
    parse_rate,
    parse_zoho_timestamp,
    service_from_crm_product,
    service_from_item,
    stored_service,
)
from testkit.fake_zoho import ITEM

T = datetime(2026, 5, 2, 16, 14, 3, tzinfo=UTC)


def state(**fields: Any) -> ServiceState:
    base: dict[str, Any] = {
        "zoho_item_id": "2000000000101",
        "name": "Onboarding workshop",
        "sku": "SVC-ONB-1",
        "description": "Half-day remote session",
        "rate": Decimal("250.0000"),
        "unit": "session",
        "product_type": "service",
        "status": ServiceStatus.active,
        "zoho_source": ZohoOrigin.books,
        "zoho_last_modified_at": T,
    }
    return ServiceState(**{**base, **fields})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {}),
        ({"status": "inactive"}, {"status": ServiceStatus.inactive}),
        ({"status": "Inactive"}, {"status": ServiceStatus.inactive}),
        ({"status": None}, {"status": ServiceStatus.active}),
        ({"rate": "19.99"}, {"rate": Decimal("19.99")}),
        ({"rate": 0}, {"rate": Decimal(0)}),
        ({"rate": ""}, {"rate": None}),
        ({"rate": 12.345678}, {"rate": Decimal("12.3457")}),
        ({"description": ""}, {"description": None}),
        ({"description": "   "}, {"description": None}),
        ({"sku": None}, {"sku": None}),
        ({"product_type": "goods"}, {"product_type": "goods"}),
        ({"product_type": "digital_service"}, {"product_type": "digital_service"}),
        ({"product_type": "bundle"}, {"product_type": None}),  # not an option in Attio
        ({"item_id": 2000000000101}, {}),  # numeric ids arrive as numbers in form bodies
        ({"last_modified_time": None, "updated_time": "2026-05-02T16:14:03+00:00"}, {}),
        ({"last_modified_time": None}, {"zoho_last_modified_at": None}),
        ({"last_modified_time": "garbage"}, {"zoho_last_modified_at": None}),
    ],
)
def test_item_to_service(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    assert service_from_item({**ITEM, **changes}, ZohoOrigin.books) == state(**expected)


def test_inventory_items_carry_their_origin() -> None:
    assert service_from_item(ITEM, ZohoOrigin.inventory).zoho_source is ZohoOrigin.inventory


@pytest.mark.parametrize(
    "changes",
    [{"item_id": None}, {"item_id": ""}, {"item_id": True}, {"rate": "abc"}, {"rate": True}],
)
def test_unusable_items_are_malformed(changes: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayloadError):
        service_from_item({**ITEM, **changes}, ZohoOrigin.books)


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        (
            {
                "id": "5725767000000412001",
                "Product_Name": "Onboarding workshop",
                "Product_Code": "SVC-ONB-1",
                "Unit_Price": 250,
                "Usage_Unit": "session",
                "Product_Active": True,
                "Description": "Half-day remote session",
                "Modified_Time": "2026-05-02T16:14:03+00:00",
            },
            state(
                zoho_item_id="5725767000000412001",
                product_type=None,
                zoho_source=ZohoOrigin.crm,
            ),
        ),
        (
            {"id": "1", "Product_Name": "Old", "Product_Active": False},
            ServiceState(
                zoho_item_id="1",
                name="Old",
                status=ServiceStatus.inactive,
                zoho_source=ZohoOrigin.crm,
            ),
        ),
    ],
)
def test_crm_product_to_service(product: dict[str, Any], expected: ServiceState) -> None:
    assert service_from_crm_product(product) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-02T09:14:03-0700", T),
        ("2026-05-02T09:14:03-07:00", T),
        ("2026-05-02T16:14:03Z", T),
        ("2026-05-02T16:14:03", T),  # no offset: taken as UTC
        (None, None),
        ("yesterday", None),
    ],
)
def test_zoho_timestamps(text: str | None, expected: datetime | None) -> None:
    assert parse_zoho_timestamp(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (250, Decimal(250)),
        ("1,5", None),
        (float("nan"), None),
        ("1e3", Decimal(1000)),
        (99_999_999_999.9999, Decimal("99999999999.9999")),
        # Beyond what Attio stores exactly; quantizing these raised InvalidOperation.
        (1e29, None),
        ("1e29", None),
        pytest.param(10**4299, None, id="4300-digit-integer"),
        ("-1e11", None),
        ("Infinity", None),
        ("sNaN", None),
        (True, None),
    ],
)
def test_rates(value: object, expected: Decimal | None) -> None:
    if expected is None:
        with pytest.raises(MalformedPayloadError):
            parse_rate(value)
    else:
        assert parse_rate(value) == expected


def test_attio_values_for_a_create() -> None:
    assert attio_values(state()) == {
        "zoho_item_id": "2000000000101",
        "name": "Onboarding workshop",
        "sku": "SVC-ONB-1",
        "description": "Half-day remote session",
        "rate": 250.0,
        "unit": "session",
        "product_type": "service",
        "status": "active",
        "zoho_source": "books",
        "zoho_last_modified_at": "2026-05-02T16:14:03Z",
    }


def test_attio_values_clear_blanks_and_keep_unknown_times() -> None:
    values = attio_values(state(description=None, zoho_last_modified_at=None))
    assert values["description"] == []
    assert "zoho_last_modified_at" not in values


def test_attio_values_limited_to_what_changed() -> None:
    assert attio_values(state(status=ServiceStatus.inactive), ("status",)) == {
        "zoho_item_id": "2000000000101",
        "status": "inactive",
    }


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (state(), None, SERVICE_ATTRIBUTES),
        (state(), state(), ()),
        (state(rate=Decimal("250.00001")), state(), ()),  # below Attio's precision
        (state(rate=Decimal("250.01")), state(), ("rate",)),
        (
            state(name="New", zoho_last_modified_at=T.replace(hour=17)),
            state(),
            ("name", "zoho_last_modified_at"),
        ),
        (state(zoho_last_modified_at=None), state(), ()),  # an unknown time keeps Attio's
        (state(status=ServiceStatus.inactive), state(), ("status",)),
        (state(description=None), state(), ("description",)),
        (state(), state(zoho_source=None), ("zoho_source",)),
    ],
)
def test_changed_attributes(
    desired: ServiceState, current: ServiceState | None, expected: tuple[str, ...]
) -> None:
    assert changed_attributes(desired, current) == expected


EARLIER, LATER = T.replace(hour=10), T.replace(hour=20)


@pytest.mark.parametrize(
    ("incoming", "stored", "stale"),
    [
        (EARLIER, LATER, True),
        (LATER, EARLIER, False),
        (T, T, False),  # the same version again is harmless
        (None, LATER, False),  # the source did not say: apply
        (EARLIER, None, False),
    ],
)
def test_stale_guard(incoming: datetime | None, stored: datetime | None, stale: bool) -> None:
    assert (
        is_stale(state(zoho_last_modified_at=incoming), state(zoho_last_modified_at=stored))
        is stale
    )


@pytest.mark.parametrize(
    ("incoming", "stored", "stale"),
    [
        (ServiceStatus.active, ServiceStatus.inactive, True),  # never a reactivation on a tie
        (ServiceStatus.inactive, ServiceStatus.active, False),
        (ServiceStatus.active, ServiceStatus.active, False),
        (ServiceStatus.inactive, ServiceStatus.inactive, False),
    ],
)
def test_at_an_equal_time_a_deactivation_wins_for_webhooks(
    incoming: ServiceStatus, stored: ServiceStatus, stale: bool
) -> None:
    incoming_state = state(status=incoming, zoho_last_modified_at=T)
    stored_state = state(status=stored, zoho_last_modified_at=T)
    assert is_stale(incoming_state, stored_state, deactivation_wins_ties=True) is stale
    # The reconciliation restores Zoho's values over an edit made in Attio, ties included.
    assert not is_stale(incoming_state, stored_state)


def test_nothing_is_stale_against_no_record() -> None:
    assert not is_stale(state(), None)


def _value(kind: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"active_from": "x", "active_until": None, "attribute_type": kind, **fields}]


def test_attio_record_to_service() -> None:
    record = {
        "id": {"record_id": "rec-1"},
        "values": {
            "zoho_item_id": _value("text", value="2000000000101"),
            "name": _value("text", value="Onboarding workshop"),
            "sku": _value("text", value="SVC-ONB-1"),
            "description": _value("text", value="Half-day remote session"),
            "rate": _value("currency", currency_value=250, currency_code="USD"),
            "unit": _value("text", value="session"),
            "product_type": _value("select", option={"title": "service"}),
            "status": _value("select", option={"title": "active"}),
            "zoho_source": _value("select", option={"title": "books"}),
            "zoho_last_modified_at": _value("timestamp", value="2026-05-02T16:14:03.000000000Z"),
        },
    }
    stored = stored_service(record)
    assert stored is not None
    assert stored.record_id == "rec-1"
    assert stored.state == state()
    assert changed_attributes(service_from_item(ITEM, ZohoOrigin.books), stored.state) == ()


def test_attio_record_without_item_id_is_skipped() -> None:
    assert stored_service({"id": {"record_id": "r"}, "values": {}}) is None


def test_deactivated_keeps_the_newest_time() -> None:
    assert state().deactivated(EARLIER) == state(status=ServiceStatus.inactive)
    assert state().deactivated(LATER).zoho_last_modified_at == LATER
