"""The preview as a stable JSON document (`python -m offline preview --json`), and back.

The document is deterministic: keys sorted, resources in URN order, no timestamps or random
ids, so the same program and config give byte-identical output and a saved document can be
diffed against a later render. Its schema is `offline/preview.schema.json`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from offline.harness import RecordedResource, Rendering
from offline.report import service_rows

SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("preview.schema.json")


class DocumentError(Exception):
    """A saved document that cannot be read."""


def to_document(rendering: Rendering) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "project": rendering.project,
        "stack": rendering.stack,
        "config": dict(sorted(rendering.config.items())),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "inputs": r.inputs,
                "dependsOn": list(r.dependencies),
                "options": {
                    "ignoreChanges": list(r.ignore_changes),
                    "deleteBeforeReplace": r.delete_before_replace,
                    "protect": r.protect,
                    "retainOnDelete": r.retain_on_delete,
                },
            }
            for r in sorted(rendering.resources, key=lambda r: r.urn)
        ],
        "outputs": rendering.outputs,
        "warnings": list(rendering.warnings),
        # Derived from the resources, for readers that want the services without them.
        "services": [
            {key: list(value) if isinstance(value, tuple) else value for key, value in row.items()}
            for row in map(dataclasses.asdict, service_rows(rendering))
        ],
    }


def dumps(rendering: Rendering) -> str:
    return json.dumps(to_document(rendering), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def from_document(document: dict[str, Any]) -> Rendering:
    version = document.get("schemaVersion")
    # Version 1 (no config, no retainOnDelete) is still read, so that a pull request can be
    # compared with a base branch that saved its document before version 2.
    if version == 1:
        document = {**document, "config": {}}
    elif version != SCHEMA_VERSION:
        raise DocumentError(
            f"schemaVersion {version!r} is not supported (this tool reads {SCHEMA_VERSION}); "
            "save the document again with this version's `python -m offline preview --json`"
        )
    try:
        resources = [
            RecordedResource(
                urn=r["urn"],
                type=r["type"],
                name=r["name"],
                parent=r["parent"],
                custom=r["custom"],
                inputs=r["inputs"],
                dependencies=tuple(r["dependsOn"]),
                ignore_changes=tuple(r["options"]["ignoreChanges"]),
                delete_before_replace=r["options"]["deleteBeforeReplace"],
                protect=r["options"]["protect"],
                retain_on_delete=r["options"].get("retainOnDelete", False),
            )
            for r in document["resources"]
        ]
        return Rendering(
            project=document["project"],
            stack=document["stack"],
            resources=resources,
            outputs=document["outputs"],
            warnings=tuple(document["warnings"]),
            config=_config(document["config"]),
        )
    except (KeyError, TypeError) as error:
        raise DocumentError(f"not a preview document: missing or malformed {error}") from None


def _config(config: Any) -> dict[str, str]:
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.items()
    ):
        raise TypeError("'config'")
    return dict(config)


def load(path: Path) -> Rendering:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise DocumentError(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise DocumentError(f"{path}: not a preview document")
    return from_document(document)
