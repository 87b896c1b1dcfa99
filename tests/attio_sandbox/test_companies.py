"""People linked to companies by e-mail domain, as Attio does (API writes included)."""

from __future__ import annotations

import httpx
import pytest

from attio_sandbox import SandboxState
from attio_sandbox.companies import company_domain, company_name
from attio_sandbox.domains import email_properties
from tests.attio_sandbox.support import first, values, write_body

PEOPLE = "/v2/objects/people/records"
COMPANIES = "/v2/objects/companies/records"


async def write(client: httpx.AsyncClient, method: str, path: str, **body: object) -> dict:
    response = await client.request(method, path, json=write_body(**body))
    assert response.status_code == 200, response.json()
    record: dict = response.json()["data"]
    return record


def company_of(person: dict) -> str | None:
    return first(person, "company", "target_record_id") if values(person, "company") else None


def domains_by_company(sandbox: SandboxState) -> dict[str, list[str]]:
    companies = sandbox.store.get_object("companies")
    domains = companies.attributes_by_slug["domains"]
    return {
        rid: [v.fields["domain"] for v in record.values.get(domains.id, [])]
        for rid, record in companies.records.items()
    }


@pytest.mark.parametrize(
    ("addresses", "domain"),
    [
        (["ada@acme.io"], "acme.io"),
        (["ada@eu.acme.co.uk"], "acme.co.uk"),  # the root domain
        (["ada@gmail.com", "ada@acme.io"], "acme.io"),  # the first work address
        (["ada@gmail.com"], None),  # personal mail makes no company
        (["ada@icloud.com", "a@yahoo.co.uk"], None),
        (["ada@example.com", "ada@lab.test"], None),  # reserved for examples
        ([], None),
    ],
)
def test_the_domain_a_person_is_linked_by(addresses: list[str], domain: str | None) -> None:
    assert company_domain(email_properties(a) for a in addresses) == domain


def test_a_new_companys_name() -> None:
    assert company_name("acme.io") == "Acme"
    assert company_name("blue-river.co.uk") == "Blue River"


async def test_creating_people_creates_or_matches_their_company(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    ana = await write(client, "POST", PEOPLE, email_addresses=["ana@acme.io"])
    acme = company_of(ana)
    assert acme is not None
    assert domains_by_company(sandbox) == {acme: ["acme.io"]}
    company = (await client.get(f"{COMPANIES}/{acme}")).json()["data"]
    assert first(company, "name") == "Acme"
    # The same domain, through an assert this time: matched, not made again.
    ben = await write(
        client, "PUT", f"{PEOPLE}?matching_attribute=email_addresses",
        email_addresses=["ben@sales.acme.io"],
    )  # fmt: skip
    assert company_of(ben) == acme
    gmail = await write(client, "POST", PEOPLE, email_addresses=["cleo@gmail.com"])
    assert company_of(gmail) is None
    assert len(domains_by_company(sandbox)) == 1
    # What the API answers is what it stores.
    fetched = (await client.get(f"{PEOPLE}/{ben['id']['record_id']}")).json()["data"]
    assert fetched == ben


async def test_an_existing_company_with_the_domain_is_matched(client: httpx.AsyncClient) -> None:
    globex = await write(client, "POST", COMPANIES, name="Globex Corp", domains=["globex.com"])
    person = await write(client, "POST", PEOPLE, email_addresses=["hank@globex.com"])
    assert company_of(person) == globex["id"]["record_id"]


async def test_a_company_written_with_the_person_wins(client: httpx.AsyncClient) -> None:
    initech = await write(client, "POST", COMPANIES, name="Initech", domains=["initech.com"])
    chosen = [{"target_object": "companies", "target_record_id": initech["id"]["record_id"]}]
    person = await write(client, "POST", PEOPLE, email_addresses=["peter@acme.io"], company=chosen)
    assert company_of(person) == initech["id"]["record_id"]


async def test_a_new_address_moves_the_person_to_its_company(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    ana = await write(client, "POST", PEOPLE, email_addresses=["ana@acme.io"])
    path = f"{PEOPLE}/{ana['id']['record_id']}"
    moved = await write(client, "PUT", path, email_addresses=["ana@globex.com"])
    globex = company_of(moved)
    assert globex is not None and globex != company_of(ana)
    assert sorted(domains_by_company(sandbox).values()) == [["acme.io"], ["globex.com"]]
    company_attribute = sandbox.store.get_attribute("people", "company").id
    companies = sandbox.store.get_object("companies").id
    events = [(e.event_type, e.object_id, e.attribute_id) for e in sandbox.journal.events[-3:]]
    assert ("record.created", companies, None) in events  # Globex, made of the domain
    assert events[-1] == ("record.updated", sandbox.store.get_object("people").id,
                          company_attribute)  # fmt: skip
    # An address on the same domain, or a personal one, leaves the link alone.
    same = await write(client, "PATCH", path, email_addresses=["a.k@globex.com"])
    assert company_of(same) == globex
    personal = await write(client, "PUT", path, email_addresses=["ana@gmail.com"])
    assert company_of(personal) == globex


async def test_a_company_chosen_by_hand_stays_when_the_address_changes(
    client: httpx.AsyncClient,
) -> None:
    initech = await write(client, "POST", COMPANIES, name="Initech", domains=["initech.com"])
    chosen = [{"target_object": "companies", "target_record_id": initech["id"]["record_id"]}]
    person = await write(client, "POST", PEOPLE, email_addresses=["peter@acme.io"])
    path = f"{PEOPLE}/{person['id']['record_id']}"
    await write(client, "PATCH", path, company=chosen)
    moved = await write(client, "PUT", path, email_addresses=["peter@globex.com"])
    assert company_of(moved) == initech["id"]["record_id"]


async def test_a_person_without_a_company_gets_one_when_a_work_address_arrives(
    client: httpx.AsyncClient,
) -> None:
    person = await write(client, "POST", PEOPLE, email_addresses=["zoe@gmail.com"])
    assert company_of(person) is None
    path = f"{PEOPLE}/{person['id']['record_id']}"
    linked = await write(client, "PATCH", path, email_addresses=["zoe@umbrella.io"])
    assert company_of(linked) is not None


async def test_a_persons_company_history_keeps_the_company_they_left(
    client: httpx.AsyncClient,
) -> None:
    ada = await write(client, "POST", PEOPLE, email_addresses=["ada@acme.io"])
    acme = company_of(ada)
    path = f"{PEOPLE}/{ada['id']['record_id']}"
    moved = await write(client, "PATCH", path, email_addresses=["ada@globex.io"])
    values_path = f"{path}/attributes/company/values"
    current = (await client.get(values_path)).json()["data"]
    assert [v["target_record_id"] for v in current] == [company_of(moved)]
    history = (await client.get(values_path, params={"show_historic": "true"})).json()["data"]
    assert [(v["target_record_id"], v["active_until"] is None) for v in history] == [
        (acme, False),
        (company_of(moved), True),
    ]
    assert history[0]["active_until"] == history[1]["active_from"]
    refused = await client.get(values_path, params={"show_historic": "yes"})
    assert refused.status_code == 400
