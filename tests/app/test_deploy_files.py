"""The deploy files and docs say what the code does: checked, so they cannot drift."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from app.config import Settings
from app.schema import schema_for

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting_once() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = re.findall(r"^([A-Z_]+)=", text, flags=re.M)
    names = {field.alias for field in Settings.model_fields.values()}
    assert sorted(listed) == sorted(names)
    for line_no, line in enumerate(text.splitlines()):
        if re.match(r"^[A-Z_]+=", line):  # each variable has a comment right above it
            previous = text.splitlines()[line_no - 1]
            assert previous.startswith("#") or re.match(r"^[A-Z_]+=", previous), line


def test_render_blueprint() -> None:
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    services = {service["name"]: service for service in blueprint["services"]}
    web = services["attio-bridge"]
    assert web["type"] == "web" and web["runtime"] == "docker"
    assert web["plan"] == "starter"
    assert web["healthCheckPath"] == "/healthz"
    group = {v["key"]: v for v in blueprint["envVarGroups"][0]["envVars"]}
    assert group["BRIDGE_ENV"]["value"] == "production"
    env = {v["key"]: v for v in web["envVars"] if "key" in v}
    assert env["ADMIN_TOKEN"] == {"key": "ADMIN_TOKEN", "generateValue": True}
    for secret in ("ATTIO_API_KEY", "ATTIO_WEBHOOK_SECRET", "BRAINTREE_PRIVATE_KEY"):
        assert env[secret]["sync"] is False
    retry = services["attio-bridge-retry-due"]
    assert retry["type"] == "cron"
    assert retry["schedule"] == "*/10 * * * *"
    assert retry["dockerCommand"] == "attio-bridge events retry-due"
    # What each cron job reads is checked in test_render_blueprint (only what it needs).
    prune = services["attio-bridge-events-prune"]
    assert prune["type"] == "cron" and prune["schedule"] == "41 4 * * *"
    assert prune["dockerCommand"] == "attio-bridge events prune --older-than 30"
    assert services["attio-bridge-sync-zoho"]["schedule"] == "0 */6 * * *"
    assert services["attio-bridge-sync-zoho"]["dockerCommand"] == "attio-bridge sync zoho"


def test_dockerfile_runs_uvicorn_on_port_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, flags=re.M)
    assert re.search(r"^USER (?!root)\w+", text, flags=re.M)
    cmd = re.search(r"^CMD (.+(?:\\\n.+)*)", text, flags=re.M)
    assert cmd and not cmd.group(1).startswith("["), "shell form, so $PORT expands"
    assert '--port "$PORT"' in cmd.group(1) and "--host 0.0.0.0" in cmd.group(1)
    # The same uvicorn settings as `attio-bridge serve` anywhere (app/serving.py): h11 with its
    # header limit and deadlines, no server banner, no access log.
    assert cmd.group(1).startswith("exec attio-bridge serve ")
    assert "--proxy-headers" in cmd.group(1) and "uvicorn" not in cmd.group(1)


@pytest.mark.parametrize("payments_object", [True, False])
def test_schema_doc_lists_every_object_and_attribute(payments_object: bool) -> None:
    doc = (ROOT / "docs" / "attio-schema.md").read_text()
    for obj in schema_for(payments_object=payments_object):
        assert f"## `{obj.api_slug}`" in doc
        assert f"unique key `{obj.unique_key}`" in doc
        for attribute in obj.attributes:
            row = re.search(rf"^\| `{attribute.api_slug}` \| ([\w-]+) \| (yes)? ", doc, flags=re.M)
            assert row, f"{obj.api_slug}.{attribute.api_slug} missing from docs/attio-schema.md"


def test_docker_image_holds_the_product_only() -> None:
    """The sandbox, test and benchmark support stay out of the image: it copies `app` alone,
    and the build context leaves the rest out too."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile, flags=re.M)
    sources = {source for line in copied for source in line.split()}
    assert sources == {"requirements/app.txt", "pyproject.toml", "README.md", "app"}
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"attio_sandbox", "braintree_sandbox", "testkit", "tests", "bench"} <= ignored


# -- the lockfiles ---------------------------------------------------------------------------

APP_LOCK = "requirements/app.txt"
DEV_LOCK = "requirements/dev.txt"


def _name(requirement: str) -> str:
    """A distribution name as PEP 503 compares them (`Typing_Extensions` = `typing-extensions`)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[1]).lower()


def declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {_name(requirement) for requirement in requirements}


def locked(path: str) -> dict[str, tuple[str, list[str], list[str]]]:
    """name -> (pinned version, sha256 hashes, what pulled it in), from a `--generate-hashes`
    requirements file."""
    entries: dict[str, tuple[str, list[str], list[str]]] = {}
    text = (ROOT / path).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the header
    for block in blocks:
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", block)
        assert pin, f"{path}: not an exact pin: {block.splitlines()[0]!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", block)
        via = re.findall(r"#\s+(?:via\s+)?(\S.*)$", block, flags=re.M)
        entries[_name(pin[1])] = (pin[2], hashes, via)
    return entries


@pytest.mark.parametrize(("path", "extras"), [(APP_LOCK, ()), (DEV_LOCK, ("dev",))])
def test_lockfile_pins_every_declared_dependency_with_hashes(
    path: str, extras: tuple[str, ...]
) -> None:
    entries = locked(path)
    wanted = declared(*extras)
    assert wanted <= set(entries), f"{path} lacks {sorted(wanted - set(entries))}: ./scripts/lock"
    for name, (_version, hashes, _via) in entries.items():
        assert hashes, f"{path}: {name} has no hash"
    # Nothing is locked as a direct dependency that pyproject.toml no longer declares.
    direct = {name for name, (_v, _h, via) in entries.items() if any("pyproject" in v for v in via)}
    assert direct == wanted, f"{path} is stale: run ./scripts/lock"


def test_the_dev_lockfile_holds_the_app_lockfile() -> None:
    """Tests run on the versions the image ships."""
    app, dev = locked(APP_LOCK), locked(DEV_LOCK)
    assert {name: entry[0] for name, entry in app.items()} == {name: dev[name][0] for name in app}


def test_docker_image_installs_from_the_lockfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copied = {
        target: source for source, target in re.findall(r"^COPY\s+(\S+)\s+(\S+)$", text, flags=re.M)
    }
    installs = re.findall(r"pip install ([^\n&]+)", text)
    locked_installs = [i for i in installs if "--require-hashes" in i]
    assert len(locked_installs) == 1, installs
    target = re.search(r"-r\s+(\S+)", locked_installs[0])
    assert target and copied.get(f"./{target[1]}", copied.get(target[1])) == APP_LOCK
    # Anything else it installs brings no dependency of its own.
    assert all("--no-deps" in i for i in installs if i not in locked_installs)


def test_ci_and_the_scripts_install_from_the_lockfile() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("rm -rf .venv") < ci.index("source scripts/_venv.sh") < ci.index("scripts/test")
    venv = (ROOT / "scripts" / "_venv.sh").read_text()
    assert f"LOCKFILE={DEV_LOCK}" in venv
    installs = re.findall(r"pip install ([^\n]+)", venv)
    assert [i for i in installs if "-r" in i.split()] == ['--quiet --require-hashes -r "$LOCKFILE"']
    assert [i for i in installs if "-e ." in i] == ["--quiet --no-deps -e ."]
    # A changed lockfile is installed again.
    assert '"$LOCKFILE"' in venv.split("stamp=")[0]
    for script in ("test", "dev"):
        assert 'source "$(dirname "$0")/_venv.sh"' in (ROOT / "scripts" / script).read_text()
