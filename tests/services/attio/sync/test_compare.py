"""The catch-up's pure comparison: which contact fields Attio holds newer than Braintree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.services.attio.sync.compare import CompanyName, compare, is_newer, value_times

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """Attio's timestamp shape: UTC, nanoseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond * 1000:09d}Z"


def value(at: datetime, kind: str, until: datetime | None = None, **fields: Any) -> dict:
    return {
        "active_from": stamp(at),
        "active_until": stamp(until) if until else None,
        "attribute_type": kind,
        **fields,
    }


def person(
    at: datetime,
    *,
    first: str = "Ada",
    last: str = "Byron",
    email: str | None = "ada@example.com",
    phone: str | None = None,
    company: str | None = None,
    name_at: datetime | None = None,
    email_at: datetime | None = None,
) -> dict:
    values: dict[str, list[dict]] = {
        "name": [
            value(
                name_at or at,
                "personal-name",
                first_name=first,
                last_name=last,
                full_name=f"{first} {last}".strip(),
            )
        ],
        "email_addresses": [],
        "phone_numbers": [],
        "company": [],
    }
    if email is not None:
        values["email_addresses"] = [value(email_at or at, "email-address", email_address=email)]
    if phone is not None:
        values["phone_numbers"] = [
            value(at, "phone-number", original_phone_number=phone, phone_number=phone)
        ]
    if company is not None:
        values["company"] = [value(at, "record-reference", target_record_id=company)]
    return {"id": {"record_id": "p1"}, "values": values}


def customer(updated: datetime | None, **fields: Any) -> SimpleNamespace:
    """An SDK `Customer`: Braintree's times are naive UTC in whole seconds."""
    base = {"first_name": "Ada", "last_name": "Byron", "email": "ada@example.com"}
    base |= {"phone": None, "company": None}
    at = updated.astimezone(UTC).replace(tzinfo=None, microsecond=0) if updated else None
    return SimpleNamespace(**{**base, **fields, "updated_at": at})


LATER = T0 + timedelta(hours=1)
EARLIER = T0 - timedelta(hours=1)


@pytest.mark.parametrize(
    ("attio", "braintree", "send", "kept"),
    [
        # Attio newer: the differing field is sent.
        (person(LATER, email="ada@new.example"), customer(T0), {"email": "ada@new.example"}, ()),
        # Braintree newer: kept.
        (person(EARLIER, email="ada@new.example"), customer(T0), {}, ("email",)),
        # Equal (same second): not shown newer, kept.
        (
            person(T0 + timedelta(milliseconds=400), email="ada@new.example"),
            customer(T0),
            {},
            ("email",),
        ),
        # One second later is newer.
        (
            person(T0 + timedelta(seconds=1), email="ada@new.example"),
            customer(T0),
            {"email": "ada@new.example"},
            (),
        ),
        # In step, whatever the times.
        (person(LATER), customer(T0), {}, ()),
        (person(EARLIER), customer(T0), {}, ()),
        # Attio lacks a value: never blanked in Braintree, whoever is newer.
        (person(LATER, email=None), customer(T0), {}, ()),
        (person(LATER, first="", last="Byron"), customer(T0), {}, ()),
        # Braintree lacks the value (None or ""): Attio's newer one is sent.
        (person(LATER, phone="+44 20 7946 0000"), customer(T0), {"phone": "+44 20 7946 0000"}, ()),
        (person(LATER), customer(T0, first_name=""), {"first_name": "Ada"}, ()),
        # A customer without updated_at: Attio's value wins, as on the webhook path.
        (person(EARLIER, last="King"), customer(None), {"last_name": "King"}, ()),
        # Per field: the name is newer in Attio, the email is not.
        (
            person(EARLIER, first="Augusta", email="ada@new.example", name_at=LATER),
            customer(T0),
            {"first_name": "Augusta"},
            ("email",),
        ),
    ],
)
def test_compare(attio: dict, braintree: SimpleNamespace, send: dict, kept: tuple) -> None:
    diff = compare(attio, None, braintree)
    assert diff.send == send
    assert diff.kept == kept


def test_the_company_field_is_newer_when_the_person_moved_or_the_company_was_renamed() -> None:
    moved = person(LATER, company="c1")
    renamed = person(EARLIER, company="c1")
    acme_old = CompanyName("Acme", EARLIER)
    acme_new = CompanyName("Acme Ltd", LATER)
    assert compare(moved, acme_old, customer(T0, company="Globex")).send == {"company": "Acme"}
    assert compare(renamed, acme_new, customer(T0, company="Acme")).send == {"company": "Acme Ltd"}
    stale = compare(renamed, acme_old, customer(T0, company="Globex"))
    assert stale.send == {} and stale.kept == ("company",)
    # No company in Attio: Braintree's is left alone.
    assert compare(person(LATER), None, customer(T0, company="Globex")).in_step


def test_only_current_values_count() -> None:
    record = person(LATER, email="new@example.com", email_at=LATER)
    old = value(EARLIER, "email-address", until=LATER, email_address="old@example.com")
    record["values"]["email_addresses"].insert(0, old)
    assert value_times(record, None)["email"] == LATER
    assert compare(record, None, customer(T0)).send == {"email": "new@example.com"}


@pytest.mark.parametrize(
    ("attio", "braintree", "newer"),
    [
        (None, T0, False),
        (T0, None, True),
        (T0 + timedelta(seconds=1), T0, True),
        (T0 + timedelta(microseconds=999_999), T0, False),
        (T0, T0, False),
        (T0 - timedelta(seconds=1), T0, False),
    ],
)
def test_is_newer(attio: datetime | None, braintree: datetime | None, newer: bool) -> None:
    naive = braintree.replace(tzinfo=None) if braintree else None  # as the SDK gives it
    assert is_newer(attio, naive) is newer
