"""render.yaml against the rules of Render's Blueprint JSON Schema, and queue mode's wiring.

The schema part is vendored in tests/fixtures/render-blueprint-schema.json (from
https://render.com/schema/render.yaml.json): every key, required key and enum the blueprint
uses is checked offline, as Render checks it when the blueprint is first applied.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "render-blueprint-schema.json").read_text())
REDIS_URL = {
    "key": "REDIS_URL",
    "fromService": {
        "type": "keyvalue",
        "name": "attio-bridge-redis",
        "property": "connectionString",
    },
}


def blueprint() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {service["name"]: service for service in document["services"]}


def errors(document: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(SCHEMA)
    return [error.message for error in validator.iter_errors(document)]


def test_the_vendored_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_render_yaml_is_valid_against_the_blueprint_schema() -> None:
    assert errors(blueprint()) == []


@pytest.mark.parametrize(
    "name", ["attio-bridge", "attio-bridge-worker", "attio-bridge-redis", "attio-bridge-retry-due"]
)
def test_the_schema_refuses_an_unknown_key_on_every_service_kind(name: str) -> None:
    document = blueprint()
    services(document)[name]["numInstance"] = 2  # a typo Render would refuse
    assert errors(document)


@pytest.mark.parametrize(
    ("key", "value"),
    [("ipAllowList", None), ("maxmemoryPolicy", "noevict"), ("plan", "hobby")],
)
def test_the_schema_refuses_a_key_value_instance_render_would(key: str, value: object) -> None:
    document = blueprint()
    redis = services(document)["attio-bridge-redis"]
    if value is None:
        del redis[key]  # a Key Value instance requires ipAllowList
    else:
        redis[key] = value
    assert errors(document)


def test_the_schema_refuses_an_unknown_reference_property() -> None:
    document = copy.deepcopy(blueprint())
    web = services(document)["attio-bridge"]
    redis_url = next(v for v in web["envVars"] if v.get("key") == "REDIS_URL")
    redis_url["fromService"]["property"] = "url"
    assert errors(document)


def test_the_key_value_instance_is_internal_persistent_and_never_evicts() -> None:
    redis = services(blueprint())["attio-bridge-redis"]
    assert redis["type"] == "keyvalue"
    assert redis["ipAllowList"] == []  # no access from outside Render's private network
    assert redis["maxmemoryPolicy"] == "noeviction"  # a full instance refuses, never drops
    assert redis["plan"] != "free"  # free Key Value instances do not persist
    assert redis["persistenceMode"] == "journal-snapshot"


# What each process reads besides the shared group: exactly what its command needs.
PROCESSING = {  # verify a delivery again, then apply it (handlers call all three providers)
    "ATTIO_API_KEY",
    "ATTIO_WEBHOOK_SECRET",
    "ATTIO_OWN_ACTOR_IDS",
    "BRAINTREE_MERCHANT_ID",
    "BRAINTREE_PUBLIC_KEY",
    "BRAINTREE_PRIVATE_KEY",
    "ZOHO_CLIENT_ID",
    "ZOHO_CLIENT_SECRET",
    "ZOHO_REFRESH_TOKEN",
    "ZOHO_ORGANIZATION_ID",
    "ZOHO_WEBHOOK_SECRET",
    "ZOHO_CRM_NOTIFY_TOKEN",
    "ZOHO_CRM_CHANNEL_IDS",
}
ZOHO_API = {"ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"}
CRM_CHANNEL = {"ZOHO_CRM_NOTIFY_TOKEN", "ZOHO_CRM_CHANNEL_IDS"}
# A job either runs itself (Redis: the shared budget) or asks the web service (admin API).
JOB = {"BRIDGE_ADMIN_URL", "ADMIN_TOKEN", "REDIS_URL", "ATTIO_API_KEY"}
NEEDS = {
    "attio-bridge-worker": {"REDIS_URL"} | PROCESSING,
    "attio-bridge-retry-due": JOB | PROCESSING,  # replays verify, and apply when Redis is down
    "attio-bridge-events-prune": JOB,
    "attio-bridge-sync-zoho": JOB | ZOHO_API | {"ZOHO_ORGANIZATION_ID"} | CRM_CHANNEL,
    "attio-bridge-sync-braintree": JOB
    | {"BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY"},
    "attio-bridge-sync-attio": JOB
    | {"BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY"},
    "attio-bridge-zoho-watch": ZOHO_API | CRM_CHANNEL | {"ZOHO_CRM_NOTIFY_URL"},
    # Every feed's checks: a source is watched when its webhook is set up (its secret is set);
    # the alert channels are entered on this job alone.
    "attio-bridge-watch": PROCESSING
    | {"REDIS_URL", "PUBLIC_URL"}
    | {"ALERT_SLACK_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET"}
    | {"ALERT_ATTIO_ASSIGNEE"},
}


def env_keys(service: dict[str, Any]) -> set[str]:
    return {v["key"] for v in service["envVars"] if "key" in v}


def test_the_worker_runs_the_worker_command() -> None:
    worker = services(blueprint())["attio-bridge-worker"]
    assert worker["type"] == "worker" and worker["runtime"] == "docker"
    assert worker["dockerCommand"] == "attio-bridge worker"
    assert {"fromGroup": "attio-bridge-config"} in worker["envVars"]


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_each_process_gets_only_the_secrets_its_command_needs(name: str) -> None:
    found = services(blueprint())
    assert env_keys(found[name]) == NEEDS[name]
    web = env_keys(found["attio-bridge"])
    for var in found[name]["envVars"]:  # each one entered once, on the web service
        if var.get("fromService", {}).get("type") == "web" and "envVarKey" in var:
            assert var["envVarKey"] == var["key"] and var["key"] in web


def test_every_process_is_listed_with_its_needs() -> None:
    processes = {s["name"] for s in blueprint()["services"] if s["type"] in ("worker", "cron")}
    assert processes == set(NEEDS)


def test_every_process_that_calls_attio_gets_redis_url_from_the_key_value_instance() -> None:
    for service in blueprint()["services"]:
        calls_attio = service["type"] == "web" or "ATTIO_API_KEY" in NEEDS.get(service["name"], ())
        if calls_attio:
            assert REDIS_URL in service["envVars"], service["name"]


def test_each_cron_job_comment_describes_that_job() -> None:
    text = (ROOT / "render.yaml").read_text()
    for service in blueprint()["services"]:
        if service["type"] != "cron":
            continue
        before = text.split(f"name: {service['name']}\n", 1)[0]
        comment = before.rsplit("\n\n", 1)[-1]
        if "Delete this job" in comment or "channel" in comment:
            assert service["dockerCommand"] == "attio-bridge zoho watch", service["name"]


def test_the_web_service_scales_with_the_key_value_instance() -> None:
    text = (ROOT / "render.yaml").read_text()
    comment = text.split("numInstances: 1", 1)[0].rsplit("healthCheckPath", 1)[1]
    assert "raise numInstances with the Key Value instance" in comment
