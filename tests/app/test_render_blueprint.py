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


def test_the_worker_runs_the_worker_command_with_the_web_services_secrets() -> None:
    found = services(blueprint())
    worker, web = found["attio-bridge-worker"], found["attio-bridge"]
    assert worker["type"] == "worker" and worker["runtime"] == "docker"
    assert worker["dockerCommand"] == "attio-bridge worker"
    web_keys = {v["key"] for v in web["envVars"] if "key" in v}
    assert web_keys <= {v["key"] for v in worker["envVars"] if "key" in v}
    assert {"fromGroup": "attio-bridge-config"} in worker["envVars"]


def test_every_process_that_calls_attio_gets_redis_url_from_the_key_value_instance() -> None:
    for service in blueprint()["services"]:
        if service["type"] in ("web", "worker", "cron"):
            assert REDIS_URL in service["envVars"], service["name"]


def test_the_web_service_scales_with_the_key_value_instance() -> None:
    text = (ROOT / "render.yaml").read_text()
    comment = text.split("numInstances: 1", 1)[0].rsplit("healthCheckPath", 1)[1]
    assert "raise numInstances with the Key Value instance" in comment
