"""The API's contract: the committed OpenAPI documents are what the apps generate and serve, and
they declare every status an operation can answer, each error with the error body's schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_gateway.main import PUBLIC_OPENAPI, Downstream, Settings, create_app
from tests.apps.conftest import PROJECT, load_script

openapi = load_script("openapi")

PUBLIC_OPERATIONS = {
    ("get", "/health"): {"200", "400", "408", "413"},
    ("post", "/users"): {"201", "400", "408", "413", "422", "502", "503", "504"},
    ("get", "/users/{user_id}"): {"200", "400", "404", "408", "413", "502", "503", "504"},
    ("delete", "/users/{user_id}"): {"204", "400", "404", "408", "413", "502", "503", "504"},
    ("post", "/orders"): {"201", "400", "408", "413", "422", "502", "503", "504"},
    ("get", "/orders/{order_id}"): {"200", "400", "404", "408", "413", "502", "503", "504"},
}
"""Every public operation and every status it can answer (docs/apps.md)."""


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_committed_documents_are_what_the_apps_generate() -> None:
    for path, text in openapi.documents().items():
        assert path.exists(), f"{path.relative_to(PROJECT)} is missing: make openapi"
        assert path.read_text() == text, f"{path.relative_to(PROJECT)} is stale: make openapi"


def test_each_service_serves_its_committed_document(aws: None) -> None:
    for name, app in openapi.service_apps().items():
        served = TestClient(app).get("/openapi.json")
        assert served.status_code == 200
        assert served.json() == json.loads((openapi.DOCS / f"{name}.json").read_text())


def test_the_gateway_serves_the_public_document() -> None:
    settings = Settings(
        downstreams=(
            Downstream("user-service", "/users", "http://users.test", 1),
            Downstream("order-service", "/orders", "http://orders.test", 1),
        )
    )
    served = TestClient(create_app(settings)).get("/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == json.loads(PUBLIC_OPENAPI.read_text())
    assert served.json()["openapi"] == "3.1.0"


def test_the_public_document_covers_users_and_orders_with_every_status() -> None:
    document = json.loads(PUBLIC_OPENAPI.read_text())
    found = {key: set(operation["responses"]) for key, operation in operations(document).items()}
    assert found == PUBLIC_OPERATIONS


@pytest.mark.parametrize("document", ["public", "user-service", "order-service"])
def test_every_error_is_declared_with_the_error_body(document: str) -> None:
    path = PUBLIC_OPENAPI if document == "public" else openapi.DOCS / f"{document}.json"
    parsed = json.loads(path.read_text())
    assert parsed["openapi"] == "3.1.0"
    assert "HTTPValidationError" not in json.dumps(parsed)
    for (method, route), operation in operations(parsed).items():
        for status, response in operation["responses"].items():
            if status == "204":  # no content
                assert "content" not in response, (method, route)
                continue
            schema = response["content"]["application/json"]["schema"]
            if int(status) >= 400:
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, route)
                assert response["description"], (method, route, status)
    error_body = parsed["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["status", "message"]
    assert set(error_body["properties"]) == {"status", "message", "fields"}


def test_the_script_says_which_documents_are_stale(tmp_path: Any, monkeypatch: Any) -> None:
    documents = {tmp_path / "a.json": "{}\n", tmp_path / "b.json": "[]\n"}
    (tmp_path / "a.json").write_text("{}\n")
    monkeypatch.setattr(openapi, "documents", lambda: documents)
    monkeypatch.setattr(openapi, "PROJECT", tmp_path)
    assert openapi.main(["--check"]) == openapi.EXIT_STALE
    assert not (tmp_path / "b.json").exists()
    assert openapi.main([]) == openapi.EXIT_OK
    assert (tmp_path / "b.json").read_text() == "[]\n"
    assert openapi.main(["--check"]) == openapi.EXIT_OK
