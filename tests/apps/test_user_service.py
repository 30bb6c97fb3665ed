"""user-service: POST /users, GET /users/{id}, /health, and its answers to bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.apps.conftest import REGION, big_body, chunks, create_table, items
from user_service.main import Settings, create_app

TABLE = "users"
JSON = {"content-type": "application/json"}


@pytest.fixture
def client(dynamodb: Any) -> Iterator[TestClient]:
    create_table(dynamodb, TABLE)
    app = create_app(Settings(table_name=TABLE, region=REGION), dynamodb=dynamodb)
    with TestClient(app) as test_client:
        yield test_client


def test_health_answers_without_the_table(aws: None) -> None:
    # No table and no mock: /health depends on nothing downstream.
    app = create_app(Settings(table_name="missing", region=REGION))
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_then_read(client: TestClient, dynamodb: Any) -> None:
    created = client.post("/users", json={"name": " Ada ", "email": "ada@example.com"})
    assert created.status_code == 201
    user = created.json()
    assert set(user) == {"id", "name", "email"}
    assert user["name"] == "Ada"  # surrounding blanks dropped
    assert created.headers["location"] == f"/users/{user['id']}"
    read = client.get(f"/users/{user['id']}")
    assert read.status_code == 200
    assert read.json() == user
    assert len(items(dynamodb, TABLE)) == 1


@pytest.mark.parametrize("user_id", ["0b5c1a4e-0000-4000-8000-000000000000", "x" * 65, "a.b"])
def test_unknown_user_is_404(client: TestClient, user_id: str) -> None:
    response = client.get(f"/users/{user_id}")
    assert response.status_code == 404
    assert "no user" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b'{"name": "Ada", "email": ', JSON, 400, "body"),
        (b'{"email": "ada@example.com"}', JSON, 422, "name"),
        (b'{"name": "Ada"}', JSON, 422, "email"),
        (b'{"name": 7, "email": "ada@example.com"}', JSON, 422, "name"),
        (b'{"name": "", "email": "ada@example.com"}', JSON, 422, "name"),
        (b'{"name": "Ada", "email": "not an address"}', JSON, 422, "email"),
        (b'{"name": "Ada", "email": ["ada@example.com"]}', JSON, 422, "email"),
        (b'{"name": "Ada", "email": "a@example.com", "role": "admin"}', JSON, 422, "role"),
        (b'["Ada", "ada@example.com"]', JSON, 422, "body"),
        (b"", JSON, 422, "body"),
        (b'{"name": "Ada", "email": "ada@example.com"}', {}, 422, "body"),
    ],
    ids=[
        "malformed-json",
        "missing-name",
        "missing-email",
        "name-not-a-string",
        "empty-name",
        "not-an-email",
        "email-a-list",
        "unknown-field",
        "not-an-object",
        "empty-body",
        "no-content-type",
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient,
    dynamodb: Any,
    body: bytes,
    headers: dict[str, str],
    status: int,
    field: str,
) -> None:
    response = client.post("/users", content=body, headers=headers)
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert message.startswith(f"{field}:") or f"; {field}:" in message, message
    assert items(dynamodb, TABLE) == []


def test_no_content_type_says_which_to_send(client: TestClient) -> None:
    response = client.post("/users", content=b'{"name": "Ada", "email": "a@example.com"}')
    assert "Content-Type: application/json" in response.json()["message"]


def test_a_body_over_64_kib_is_413_by_content_length(client: TestClient, dynamodb: Any) -> None:
    response = client.post("/users", content=big_body(70_000), headers=JSON)
    assert response.status_code == 413
    assert "65536" in response.json()["message"]
    assert items(dynamodb, TABLE) == []


def test_a_body_over_64_kib_is_413_without_content_length(
    client: TestClient, dynamodb: Any
) -> None:
    response = client.post("/users", content=chunks(big_body(70_000)), headers=JSON)
    assert response.status_code == 413
    assert items(dynamodb, TABLE) == []


def test_a_body_just_under_the_limit_is_read(client: TestClient) -> None:
    body = big_body(65_536 - len(big_body(0)))
    assert len(body) == 65_536
    response = client.post("/users", content=body, headers=JSON)
    assert response.status_code == 422  # read and validated: the name is too long
    assert response.json()["fields"][0]["field"] == "name"


def test_a_store_failure_is_503_with_retry_after(dynamodb: Any) -> None:
    app = create_app(Settings(table_name="no-such-table", region=REGION), dynamodb=dynamodb)
    with TestClient(app) as client:
        response = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert client.get("/users/abc").status_code == 503


# --- DELETE /users/{id}, and honest answers about writes ----------------------------------------


def test_delete_then_read_and_delete_again(client: TestClient, dynamodb: Any) -> None:
    user = client.post("/users", json={"name": "Ada", "email": "ada@example.com"}).json()
    deleted = client.delete(f"/users/{user['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(f"/users/{user['id']}").status_code == 404
    again = client.delete(f"/users/{user['id']}")
    assert again.status_code == 404
    assert "no user" in again.json()["message"]
    assert items(dynamodb, TABLE) == []


@pytest.mark.parametrize("user_id", ["0b5c1a4e-0000-4000-8000-000000000000", "a.b"])
def test_delete_of_an_unknown_user_is_404(client: TestClient, user_id: str) -> None:
    assert client.delete(f"/users/{user_id}").status_code == 404


class LostAnswers:
    """A DynamoDB client whose first call of each named operation is applied and then times
    out (its answer lost), as a read timeout does; botocore's own retries are off."""

    def __init__(self, real: Any, *operations: str, delay: float = 0.0) -> None:
        self.real = real
        self.pending = set(operations)
        self.delay = delay

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(**kwargs: Any) -> Any:
            answer = method(**kwargs)
            if name in self.pending:
                self.pending.discard(name)
                time.sleep(self.delay)
                from botocore.exceptions import ReadTimeoutError

                raise ReadTimeoutError(endpoint_url="http://dynamodb")
            return answer

        return call


def lossy_client(dynamodb: Any, *operations: str, delay: float = 0.0) -> Iterator[TestClient]:
    create_table(dynamodb, TABLE)
    lossy = LostAnswers(dynamodb, *operations, delay=delay)
    app = create_app(Settings(table_name=TABLE, region=REGION), dynamodb=lossy)
    with TestClient(app) as test_client:
        yield test_client


def test_a_create_whose_answer_was_lost_is_201_not_503(dynamodb: Any) -> None:
    # The put is applied, its answer lost; the retry's condition fails on the id the service
    # just generated: already written, so the answer is the user, once.
    for client in lossy_client(dynamodb, "put_item"):
        created = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert created.status_code == 201, created.text
        stored = items(dynamodb, TABLE)
        assert [i["id"]["S"] for i in stored] == [created.json()["id"]]


def test_a_delete_whose_answer_was_lost_is_204_not_404(dynamodb: Any) -> None:
    for client in lossy_client(dynamodb, "delete_item"):
        user = client.post("/users", json={"name": "Ada", "email": "ada@example.com"}).json()
        assert client.delete(f"/users/{user['id']}").status_code == 204
        assert items(dynamodb, TABLE) == []


def test_out_of_budget_after_an_attempt_says_it_may_have_written(dynamodb: Any) -> None:
    # A budget that fits one attempt: its answer lost, no retry fits, so the outcome is unknown.
    for client in lossy_client(dynamodb, "put_item", delay=0.4):
        answer = client.post(
            "/users",
            json={"name": "Ada", "email": "ada@example.com"},
            headers={"X-Request-Budget-Ms": "1700"},
        )
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert "may have been created" in answer.json()["message"]
