"""Cut the operations the bridge uses out of Attio's OpenAPI document.

The full document is 2 MB and lives outside the repository; the contract tests read the subset
this writes (`attio-openapi.subset.json`, committed). Re-run it when Attio's document changes:

    .venv/bin/python tests/contract/extract_subset.py ../shared/reference/attio-openapi.json

The subset keeps each operation byte-for-byte plus every component it references (transitively),
and records the source's SHA-256 under `info.x-subset-of`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

SUBSET_PATH = Path(__file__).with_name("attio-openapi.subset.json")

# (method, path template as Attio's document spells it)
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/v2/self"),
    ("get", "/v2/objects"),
    ("post", "/v2/objects"),
    ("get", "/v2/objects/{object}"),
    ("get", "/v2/{target}/{identifier}/attributes"),
    ("post", "/v2/{target}/{identifier}/attributes"),
    ("get", "/v2/{target}/{identifier}/attributes/{attribute}"),
    ("get", "/v2/{target}/{identifier}/attributes/{attribute}/options"),
    ("post", "/v2/{target}/{identifier}/attributes/{attribute}/options"),
    ("patch", "/v2/{target}/{identifier}/attributes/{attribute}/options/{option}"),
    ("post", "/v2/objects/{object}/records"),
    ("put", "/v2/objects/{object}/records"),
    ("post", "/v2/objects/{object}/records/query"),
    ("get", "/v2/objects/{object}/records/{record_id}"),
    ("patch", "/v2/objects/{object}/records/{record_id}"),
    ("put", "/v2/objects/{object}/records/{record_id}"),
    ("delete", "/v2/objects/{object}/records/{record_id}"),
    ("get", "/v2/objects/{object}/records/{record_id}/attributes/{attribute}/values"),
    ("get", "/v2/webhooks"),
    ("post", "/v2/webhooks"),
    ("get", "/v2/webhooks/{webhook_id}"),
    ("patch", "/v2/webhooks/{webhook_id}"),
    ("delete", "/v2/webhooks/{webhook_id}"),
    ("get", "/v2/workspace_members"),
    ("get", "/v2/workspace_members/{workspace_member_id}"),
    ("get", "/v2/tasks"),
    ("post", "/v2/tasks"),
    ("get", "/v2/tasks/{task_id}"),
    ("patch", "/v2/tasks/{task_id}"),
    ("delete", "/v2/tasks/{task_id}"),
)

_PREFIX = "#/components/"


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def extract(document: dict[str, Any], source_sha256: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, template in OPERATIONS:
        paths.setdefault(template, {})[method] = document["paths"][template][method]

    components: dict[str, dict[str, Any]] = {}
    pending = sorted(_references(paths))
    while pending:
        ref = pending.pop()
        if not ref.startswith(_PREFIX):
            raise ValueError(f"unexpected reference outside components: {ref}")
        section, name = ref[len(_PREFIX) :].split("/", 1)
        if name in components.get(section, {}):
            continue
        schema = document["components"][section][name]
        components.setdefault(section, {})[name] = schema
        pending.extend(sorted(_references(schema)))
    components["securitySchemes"] = document["components"]["securitySchemes"]

    info = dict(document["info"])
    info["x-subset-of"] = {
        "source": "https://api.attio.com/openapi/api",
        "sha256": source_sha256,
        "operations": [f"{method.upper()} {template}" for method, template in OPERATIONS],
    }
    return {
        "openapi": document["openapi"],
        "info": info,
        "servers": document["servers"],
        "security": document["security"],
        "paths": paths,
        "components": {
            section: dict(sorted(items.items())) for section, items in components.items()
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="Attio's full OpenAPI document (JSON)")
    parser.add_argument("--output", type=Path, default=SUBSET_PATH)
    args = parser.parse_args(argv)
    raw = args.source.read_bytes()
    subset = extract(json.loads(raw), hashlib.sha256(raw).hexdigest())
    args.output.write_text(json.dumps(subset, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output} ({len(OPERATIONS)} operations)")


if __name__ == "__main__":
    main()
