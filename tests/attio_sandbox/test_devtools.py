"""Development routes under /_sandbox."""

from __future__ import annotations

import httpx

from attio_sandbox import FaultConfig, SandboxConfig, create_sandbox_app
from tests.attio_sandbox.support import AUTH, BASE_URL, attribute_body, error, write_body

PEOPLE = "/v2/objects/people/records"


async def test_flattened_records(client: httpx.AsyncClient) -> None:
    company = await client.post(
        "/v2/objects/companies/records", json=write_body(name="Acme", domains=["acme.com"])
    )
    company_id = company.json()["data"]["id"]["record_id"]
    await client.post(
        PEOPLE,
        json=write_body(name="Lovelace, Ada", email_addresses=["ada@acme.com"], company="acme.com"),
    )
    (person,) = (await client.get("/_sandbox/objects/people/records")).json()["data"]
    assert person["values"] == {
        "name": "Ada Lovelace",
        "email_addresses": ["ada@acme.com"],
        "phone_numbers": [],
        "job_title": None,
        "company": company_id,
    }
    assert set(person) == {"record_id", "created_at", "values"}
    error(await client.get("/_sandbox/objects/planets/records"), 404, "not_found")


async def test_request_summary(client: httpx.AsyncClient) -> None:
    await client.get("/v2/self")
    await client.get("/v2/nowhere")
    summary = (await client.get("/_sandbox/requests", params={"recent": "1"})).json()
    assert summary["total"] == 2
    assert summary["by_status"] == {"200": 1, "404": 1}
    assert [entry["path"] for entry in summary["recent"]] == ["/v2/nowhere"]


async def test_reset_restores_the_starting_state() -> None:
    app = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False, latency_ms=1)))
    sandbox = app.state.sandbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as client:
        await client.post("/v2/objects/people/attributes", json=attribute_body("x", "text"))
        await client.post(PEOPLE, json=write_body(x="y"))
        await client.put("/_sandbox/faults", json={"latency_ms": 0, "server_error_rate": 0.5})

        assert (await client.post("/_sandbox/reset")).json() == {"status": "reset"}
        assert sandbox.store.query_records("people") == []
        assert sandbox.store.get_object("people").find_attribute("x") is None
        assert sandbox.journal.events == []
        assert sandbox.requests.entries == []
        assert sandbox.faults == FaultConfig(rate_limits=False, latency_ms=1)


async def test_fault_settings_over_http(client: httpx.AsyncClient) -> None:
    defaults = (await client.get("/_sandbox/faults")).json()
    assert defaults["rate_limits"] is False and defaults["write_rate"] == 25

    changed = await client.put("/_sandbox/faults", json={"server_error_rate": 0.25, "seed": 4})
    assert changed.status_code == 200
    assert changed.json() | {"server_error_rate": 0.0, "seed": None} == defaults
    # Fields not sent keep their current values.
    again = await client.put("/_sandbox/faults", json={"latency_ms": 5})
    assert again.json()["server_error_rate"] == 0.25

    for bad in ({"server_error_rate": 3}, {"nonsense": 1}, [1, 2]):
        error(await client.put("/_sandbox/faults", json=bad), 400, "validation_type")
    not_json = await client.put("/_sandbox/faults", content=b"{")
    error(not_json, 400, "validation_type")
