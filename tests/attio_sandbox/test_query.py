"""POST .../records/query: filters, sorts, limit/offset paging."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any

import httpx
import pytest

from attio_sandbox import SandboxState
from attio_sandbox.model import Record
from attio_sandbox.query import AttributeTest
from tests.attio_sandbox.support import error, write_body

QUERY = "/v2/objects/people/records/query"


def name(first: str, last: str) -> dict[str, str]:
    return {"first_name": first, "last_name": last, "full_name": f"{first} {last}"}


def asc(attribute: str, field: str | None = None) -> dict[str, str]:
    return {"direction": "asc", "attribute": attribute} | ({"field": field} if field else {})


def desc(attribute: str, field: str | None = None) -> dict[str, str]:
    return asc(attribute, field) | {"direction": "desc"}


@pytest.fixture
def people(sandbox: SandboxState) -> dict[str, str]:
    """Four people (created in this order) and a company; returns record ids by first name.

    Alan's address is on a reserved domain: the sandbox links him to no company."""
    store = sandbox.store
    store.create_attribute(
        "people",
        title="Score",
        description=None,
        api_slug="score",
        attribute_type="number",
        is_required=False,
        is_unique=False,
        is_multiselect=False,
    )
    acme = store.create_record("companies", {"name": "Acme", "domains": ["acme.com"]})
    rows = [
        ("Ada", "Lovelace", ["ada@acme.com"], "Mathematician", 90, ["+447700900001"]),
        ("Grace", "Hopper", ["grace@navy.mil", "g@acme.com"], "Rear Admiral", 95, []),
        ("Alan", "Turing", ["alan@bletchley.example"], "Cryptanalyst", 90, ["+15550000001"]),
        ("Linus", "Pauling", [], None, None, []),
    ]
    ids = {}
    for first, last, addresses, title, score, phones in rows:
        values: dict[str, Any] = {"name": name(first, last), "email_addresses": addresses}
        if title:
            values["job_title"] = title
        if score is not None:
            values["score"] = score
        if phones:
            values["phone_numbers"] = phones
        if "acme.com" in " ".join(addresses):
            values["company"] = [{"target_object": "companies", "target_record_id": acme.id}]
        ids[first] = store.create_record("people", values).id
    ids["acme"] = acme.id
    return ids


async def query(client: httpx.AsyncClient, **body: Any) -> list[str]:
    """First names of the records a query returns, in order."""
    response = await client.post(QUERY, json=body)
    assert response.status_code == 200, response.json()
    return [r["values"]["name"][0]["first_name"] for r in response.json()["data"]]


async def test_no_filter_lists_in_creation_order(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    assert await query(client) == ["Ada", "Grace", "Alan", "Linus"]
    empty_body = await client.post(QUERY)
    assert len(empty_body.json()["data"]) == 4


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"email_addresses": "GRACE@navy.mil"}, ["Grace"]),
        ({"name": "Alan Turing"}, ["Alan"]),
        ({"job_title": "Cryptanalyst", "score": 90}, ["Alan"]),
        ({"score": 90}, ["Ada", "Alan"]),
        ({"name": {"full_name": {"$eq": "Ada Lovelace"}}}, ["Ada"]),
        ({"name": {"last_name": "Hopper"}}, ["Grace"]),
        ({"email_addresses": {"email_address": {"$eq": "ada@acme.com"}}}, ["Ada"]),
        ({"email_addresses": {"email_domain": "acme.com"}}, ["Ada", "Grace"]),
        ({"email_addresses": {"normalized_email_address": "alan@bletchley.example"}}, ["Alan"]),
        ({"email_addresses": {"$contains": "BLETCH"}}, ["Alan"]),
        ({"job_title": {"$starts_with": "rear"}}, ["Grace"]),
        ({"job_title": {"$ends_with": "ician"}}, ["Ada"]),
        ({"job_title": {"$not_empty": True}}, ["Ada", "Grace", "Alan"]),
        ({"job_title": {"$not_empty": False}}, ["Linus"]),
        ({"score": {"$gt": 90}}, ["Grace"]),
        ({"score": {"$gte": 90, "$lt": 95}}, ["Ada", "Alan"]),
        ({"score": {"$lte": 90}}, ["Ada", "Alan"]),
        ({"job_title": {"$in": ["Cryptanalyst", "Mathematician"]}}, ["Ada", "Alan"]),
        ({"phone_numbers": {"$starts_with": "+44"}}, ["Ada"]),
        ({"phone_numbers": {"country_code": "us"}}, ["Alan"]),
        ({"$or": [{"name": "Ada Lovelace"}, {"score": 95}]}, ["Ada", "Grace"]),
        ({"$and": [{"score": 90}, {"$not": {"name": {"first_name": "Ada"}}}]}, ["Alan"]),
        ({"$not": {"email_addresses": {"$not_empty": True}}}, ["Linus"]),
        ({"email_addresses": {"$eq": "ada@acme.com", "$contains": "x"}}, []),
        ({"$and": []}, ["Ada", "Grace", "Alan", "Linus"]),
        ({"$or": []}, []),
        ({"created_at": {"$gte": "2000-01-01"}}, ["Ada", "Grace", "Alan", "Linus"]),
        ({"created_at": {"$lt": "2000-01-01T00:00:00Z"}}, []),
        ({"name": {"active_from": {"$gte": "2000-01-01"}}}, ["Ada", "Grace", "Alan", "Linus"]),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, people: dict[str, str], filter_: dict, expected: list[str]
) -> None:
    assert await query(client, filter=filter_) == expected


async def test_record_id_and_reference_filters(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    by_ids = {"record_id": {"$in": [people["Alan"], people["Ada"]]}}
    assert await query(client, filter=by_ids) == ["Ada", "Alan"]
    assert await query(client, filter={"record_id": people["Grace"]}) == ["Grace"]

    acme = people["acme"]
    verbose = {"company": {"target_record_id": {"$eq": acme}}}
    documented = {"company": {"target_object": "companies", "target_record_id": acme}}
    shorthand = {"company": acme}
    in_list = {"company": {"target_object": "companies", "target_record_id": {"$in": [acme]}}}
    for filter_ in (verbose, documented, shorthand, in_list):
        assert await query(client, filter=filter_) == ["Ada", "Grace"]
    wrong_object = {"company": {"target_object": "people", "target_record_id": acme}}
    assert await query(client, filter=wrong_object) == []
    assert await query(client, filter={"$not": {"company": {"$not_empty": True}}}) == [
        "Alan",
        "Linus",
    ]


async def test_select_filters_by_title_or_id(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    store = sandbox.store
    store.create_attribute(
        "people",
        title="Tier",
        description=None,
        api_slug="tier",
        attribute_type="select",
        is_required=False,
        is_unique=False,
        is_multiselect=False,
    )
    gold = store.create_option("people", "tier", "Gold")
    store.create_option("people", "tier", "Silver")
    store.create_record("people", {"name": "Gold, Person", "tier": "Gold"})
    store.create_record("people", {"name": "Silver, Person", "tier": "Silver"})
    assert await query(client, filter={"tier": "Gold"}) == ["Person"]
    assert await query(client, filter={"tier": {"option": gold.id}}) == ["Person"]
    assert await query(client, filter={"tier": "Bronze"}) == []
    sorted_names = await client.post(QUERY, json={"sorts": [desc("tier")]})
    titles = [r["values"]["tier"][0]["option"]["title"] for r in sorted_names.json()["data"]]
    assert titles == ["Silver", "Gold"]


@pytest.mark.parametrize(
    "filter_",
    [
        ["not", "an", "object"],
        {"shoe_size": 42},
        {"$nor": []},
        {"$and": {"score": 1}},
        {"score": {"$neq": 1}},
        {"score": {"$contains": "9"}},
        {"score": "ninety"},
        {"job_title": {"$gt": "A"}},
        {"name": {"middle_name": "x"}},
        {"name": {"first_name": "Ada", "$eq": "x"}},
        {"name": {}},
        {"job_title": None},
        {"job_title": ["a"]},
        {"job_title": {"$in": "a"}},
        {"job_title": {"$not_empty": "yes"}},
        {"created_at": {"$gt": "last tuesday"}},
        {"path": [["people", "company"], ["companies", "name"]], "constraints": {"value": "A"}},
    ],
)
async def test_bad_filters_are_filter_errors(
    client: httpx.AsyncClient, people: dict[str, str], filter_: Any
) -> None:
    error(await client.post(QUERY, json={"filter": filter_}), 400, "filter_error")


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        ([asc("name", "last_name")], ["Grace", "Ada", "Linus", "Alan"]),
        ([desc("name", "first_name")], ["Linus", "Grace", "Alan", "Ada"]),
        ([asc("name")], ["Ada", "Alan", "Grace", "Linus"]),
        # Records without a value come last in either direction; ties keep creation order.
        ([desc("score")], ["Grace", "Ada", "Alan", "Linus"]),
        ([asc("score")], ["Ada", "Alan", "Grace", "Linus"]),
        ([desc("score"), desc("name")], ["Grace", "Alan", "Ada", "Linus"]),
        ([desc("created_at")], ["Linus", "Alan", "Grace", "Ada"]),
    ],
)
async def test_sorts(
    client: httpx.AsyncClient, people: dict[str, str], sorts: list, expected: list[str]
) -> None:
    assert await query(client, sorts=sorts) == expected


@pytest.mark.parametrize(
    ("sorts", "code"),
    [
        ("name", "validation_type"),
        ([{"attribute": "name"}], "validation_type"),
        ([{"direction": "up", "attribute": "name"}], "validation_type"),
        ([asc("shoe_size")], "value_not_found"),
        ([asc("name", "middle_name")], "validation_type"),
        ([{"direction": "asc", "path": [["people", "company"]]}], "validation_type"),
    ],
)
async def test_bad_sorts(
    client: httpx.AsyncClient, people: dict[str, str], sorts: Any, code: str
) -> None:
    error(await client.post(QUERY, json={"sorts": sorts}), 400, code)


async def test_limit_and_offset_page_through_results(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    pages = [await query(client, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert pages == [["Ada", "Grace", "Alan"], ["Linus"], []]
    sorted_page = await query(client, sorts=[asc("name")], limit=2, offset=1)
    assert sorted_page == ["Alan", "Grace"]
    assert await query(client, filter={"score": 90}, limit=1, offset=1) == ["Alan"]
    assert await query(client, limit=0) == []


@pytest.mark.parametrize(
    "body", [{"limit": -1}, {"limit": "ten"}, {"offset": 1.5}, {"limit": True}]
)
async def test_bad_paging(client: httpx.AsyncClient, body: dict) -> None:
    error(await client.post(QUERY, json=body), 400, "validation_type")


async def test_default_limit_is_500(client: httpx.AsyncClient, sandbox: SandboxState) -> None:
    for number in range(501):
        sandbox.store.create_record("companies", {"name": f"Company {number}"})
    response = await client.post("/v2/objects/companies/records/query", json={})
    assert len(response.json()["data"]) == 500


class WalkCountingRecords(dict[str, Record]):
    """An object's records, counting each walk through all of them (what a scan does)."""

    walks = 0

    def __iter__(self) -> Iterator[str]:
        self.walks += 1
        return super().__iter__()

    def keys(self) -> KeysView[str]:
        self.walks += 1
        return super().keys()

    def values(self) -> ValuesView[Record]:
        self.walks += 1
        return super().values()

    def items(self) -> ItemsView[str, Record]:
        self.walks += 1
        return super().items()


async def test_indexed_writes_and_lookups_never_walk_the_records(
    sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asserts and equality lookups go through the index: a lookup tests only the record the
    index names, however many there are, and nothing walks every record."""
    store = sandbox.store
    store.create_attribute(
        "people",
        title="Braintree customer",
        description=None,
        api_slug="braintree_customer_id",
        attribute_type="text",
        is_required=False,
        is_unique=True,
        is_multiselect=False,
    )
    people = store.get_object("people")
    records = people.records = WalkCountingRecords(people.records)
    tested: list[str] = []
    matches = AttributeTest.matches

    def counted(test: AttributeTest, record: Record) -> bool:
        tested.append(record.id)
        return matches(test, record)

    monkeypatch.setattr(AttributeTest, "matches", counted)
    for number in range(2_000):
        store.assert_record(
            "people",
            "email_addresses",
            {
                "email_addresses": [f"p{number}@example.com"],
                "braintree_customer_id": f"cus_{number}",
            },
        )
    assert len(records) == 2_000
    assert (records.walks, tested) == (0, [])

    for number in range(0, 2_000, 10):
        tested.clear()
        (found,) = store.query_records("people", filter={"braintree_customer_id": f"cus_{number}"})
        assert found.seq == number + 1
        assert store.query_records(
            "people",
            filter={"email_addresses": {"email_address": {"$eq": f"p{number}@example.com"}}},
        ) == [found]
        assert tested == [found.id, found.id]
    assert records.walks == 0


async def test_index_and_scan_agree(sandbox: SandboxState) -> None:
    store = sandbox.store
    ids = {}
    for number in range(50):
        values = {"email_addresses": [f"p{number}@example.com"], "job_title": f"t{number % 3}"}
        ids[number] = store.create_record("people", values).id
    picked = range(0, 50, 7)
    indexed = {"email_addresses": {"$in": [f"p{n}@example.com" for n in picked]}}
    scanned = {"email_addresses": {"email_address": {"$ends_with": "@example.com"}}}
    combined = {"$and": [scanned, indexed, {"job_title": {"$starts_with": "t1"}}]}

    def found(filter_: dict) -> list[str]:
        return [record.id for record in store.query_records("people", filter=filter_)]

    assert found(indexed) == [ids[n] for n in picked]
    assert found({"$and": [scanned, indexed]}) == [ids[n] for n in picked]
    assert found({"$or": [indexed, {"record_id": ids[1]}]}) == sorted(
        [ids[1], *(ids[n] for n in picked)], key=list(ids.values()).index
    )
    assert found(combined) == [ids[n] for n in picked if n % 3 == 1]


async def test_query_on_unknown_object_is_404(client: httpx.AsyncClient) -> None:
    error(await client.post("/v2/objects/planets/records/query", json={}), 404, "not_found")


async def test_values_written_over_http_are_found_by_queries(client: httpx.AsyncClient) -> None:
    await client.post("/v2/objects/people/records", json=write_body(name="Curie, Marie"))
    assert await query(client, filter={"name": {"last_name": {"$eq": "Curie"}}}) == ["Marie"]
