"""The API's OpenAPI 3.1 documents, generated from the apps (`make openapi`).

    docs/openapi/user-service.json            user-service's internal API, as it serves it
    docs/openapi/order-service.json           order-service's, likewise (both at GET /openapi.json)
    apps/api-gateway/api_gateway/openapi.json the public API, which the gateway serves at
                                              GET /openapi.json (inside its image's context)

The public document is composed: the services' operations under the prefixes the gateway
routes (`/users…` to user-service, `/orders…` to order-service), each with the gateway's own
answers added (502, 503, 504: the service unreachable, busy, or too slow), the gateway's
`/health`, and the schemas they use (a schema that two services define differently is an error).

    .venv/bin/python scripts/openapi.py          write the documents
    .venv/bin/python scripts/openapi.py --check  list those that differ from the apps; exit 1

tests/apps/test_openapi.py fails while a committed document differs from what the apps generate
or serve, so that a change to the API shows in review as a change to these files.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
APPS = PROJECT / "apps"
for _directory in (APPS / "service-kit", APPS / "user-service", APPS / "order-service"):
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))
if str(APPS / "api-gateway") not in sys.path:
    sys.path.insert(0, str(APPS / "api-gateway"))

EXIT_OK = 0
EXIT_STALE = 1
TITLE = "microservices public API"
VERSION = "1"
GATEWAY_ERRORS = (502, 503, 504)
"""What the gateway itself answers for a routed request when the service does not."""
PREFIXES = {"user-service": "/users", "order-service": "/orders"}
"""What the gateway forwards to each service (gateway_app's downstreams)."""
DOCS = PROJECT / "docs" / "openapi"
PUBLIC = APPS / "api-gateway" / "api_gateway" / "openapi.json"


def service_apps() -> dict[str, Any]:
    """user-service and order-service as their images serve them; building a document calls
    nothing (no AWS call, no request to user-service)."""
    from order_service.main import Settings as OrderSettings
    from order_service.main import create_app as order_app
    from user_service.main import Settings as UserSettings
    from user_service.main import create_app as user_app

    return {
        "user-service": user_app(UserSettings("unused", "us-east-1"), dynamodb=object()),
        "order-service": order_app(
            OrderSettings("unused", "us-east-1", "http://users.invalid"), dynamodb=object()
        ),
    }


def gateway_app(public_openapi: dict[str, Any] | None = None) -> Any:
    """The gateway as its image serves it (its routes: /health, and the prefixes it forwards)."""
    from api_gateway.main import Downstream, Settings, create_app

    downstreams = tuple(
        Downstream(name, prefix, f"http://{name}.invalid", 3) for name, prefix in PREFIXES.items()
    )
    return create_app(Settings(downstreams=downstreams), public_openapi=public_openapi)


def service_documents() -> dict[str, dict[str, Any]]:
    return {name: app.openapi() for name, app in service_apps().items()}


def _routed(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def public_document(services: dict[str, dict[str, Any]], gateway: dict[str, Any]) -> dict[str, Any]:
    """The public API: the gateway's own operations and those it forwards to each service."""
    from service_kit import ERROR_DESCRIPTIONS

    body = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    error = {"content": {"application/json": body}}
    paths: dict[str, Any] = copy.deepcopy(gateway["paths"])
    schemas: dict[str, Any] = copy.deepcopy(gateway.get("components", {}).get("schemas", {}))
    for name, document in services.items():
        for path, item in document["paths"].items():
            if not _routed(path, PREFIXES[name]):
                continue
            item = copy.deepcopy(item)
            for operation in item.values():
                responses = operation["responses"]
                for status in GATEWAY_ERRORS:
                    responses.setdefault(
                        str(status), {"description": ERROR_DESCRIPTIONS[status], **error}
                    )
                operation["responses"] = dict(sorted(responses.items()))
            paths[path] = item
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(schema_name, schema) != schema:
                raise SystemExit(f"openapi: the schema {schema_name} differs between services")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "The API the load balancer serves, through api-gateway. Every error "
            "is the ErrorBody; see docs/apps.md for the rules at the API's edge.",
        },
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def documents() -> dict[Path, str]:
    """Each committed document's path and its text, as generated from the apps now."""
    services = service_documents()
    gateway = gateway_app(public_openapi={}).openapi()
    files = {DOCS / f"{name}.json": render(document) for name, document in services.items()}
    files[PUBLIC] = render(public_document(services, gateway))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in documents().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(PROJECT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if args.check else 'written'}: {path}", file=sys.stderr)
    return EXIT_STALE if stale and args.check else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
