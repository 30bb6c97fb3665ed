"""The preview as a stable JSON document (`python -m offline preview --json`), and back.

The document is deterministic: keys sorted, resources in URN order, no timestamps or random
ids, so the same program and config give byte-identical output and a saved document can be
diffed against a later render. Its schema is `offline/preview/preview.schema.json`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from offline.preview.report import service_rows
from offline.render.harness import RecordedResource, Rendering

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)
"""A pull request compares against a document its base branch saved, perhaps with an older
version of this tool: version 1 has no config and no retainOnDelete, versions 1 and 2 no
release estimates (derived rows, recomputed from the resources anyway)."""
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
                    **({"customTimeouts": dict(r.custom_timeouts)} if r.custom_timeouts else {}),
                },
            }
            for r in sorted(rendering.resources, key=lambda r: r.urn)
        ],
        "outputs": rendering.outputs,
        "warnings": list(rendering.warnings),
        # Derived from the resources, for readers that want the services without them.
        "services": [_plain(dataclasses.asdict(row)) for row in service_rows(rendering)],
    }


def _plain(value: Any) -> Any:
    """Tuples as lists, at any depth (a row's release estimate holds tuples too)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def dumps(rendering: Rendering) -> str:
    return json.dumps(to_document(rendering), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def from_document(document: dict[str, Any]) -> Rendering:
    version = document.get("schemaVersion")
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise DocumentError(
            f"schemaVersion {version!r} is not supported (this tool reads {readable}); "
            "save the document again with this version's `python -m offline preview --json`"
        )
    if version == 1:
        document = {**document, "config": {}}
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
                custom_timeouts=dict(r["options"].get("customTimeouts") or {}),
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
