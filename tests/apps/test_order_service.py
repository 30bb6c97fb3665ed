"""order-service: POST /orders with its user check and idempotency keys, GET /orders/{id}."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from order_service.main import Settings, create_app
from order_service.store import KeyTakenError, OrderStore
from tests.apps.conftest import REGION, chunks, create_table, items

TABLE = "orders"
USER = "6f1d3c0e-1111-4222-8333-444455556666"
ORDER = {"userId": USER, "items": [{"sku": "book-1", "quantity": 2}]}
JSON = {"content-type": "application/json"}
TIMEOUT = 0.5

Handler = Callable[[httpx.Request], Any]


def known_users(*user_ids: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        user_id = request.url.path.rsplit("/", 1)[-1]
        if request.url.path.startswith("/users/") and user_id in user_ids:
            return httpx.Response(200, json={"id": user_id, "name": "Ada", "email": "a@b.c"})
        return httpx.Response(404, json={"status": 404, "message": "no user"})

    return handler


class Users:
    """The stand-in for user-service: what it answers, and what it was asked."""

    def __init__(self) -> None:
        self.handler: Handler = known_users(USER)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        result = self.handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result


@pytest.fixture
def users() -> Users:
    return Users()


@pytest.fixture
def client(dynamodb: Any, users: Users) -> Iterator[TestClient]:
    create_table(dynamodb, TABLE)
    settings = Settings(
        table_name=TABLE,
        region=REGION,
        user_service_url="http://users.test:8080",
        user_service_timeout=TIMEOUT,
    )
    app = create_app(settings, dynamodb=dynamodb, user_transport=httpx.MockTransport(users))
    with TestClient(app) as test_client:
        yield test_client


def orders_in(dynamodb: Any) -> list[dict[str, Any]]:
    return [i for i in items(dynamodb, TABLE) if i["kind"]["S"] == "order"]


def test_create_then_read(client: TestClient, users: Users) -> None:
    created = client.post("/orders", json=ORDER, headers={"X-Request-Id": "req-1"})
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["userId"] == USER
    assert order["items"] == ORDER["items"]
    assert order["status"] == "created"
    assert set(order) == {"id", "userId", "items", "status"}
    assert created.headers["location"] == f"/orders/{order['id']}"
    # The user check went to USER_SERVICE_URL with the request's id.
    (check,) = users.requests
    assert str(check.url) == f"http://users.test:8080/users/{USER}"
    assert check.headers["x-request-id"] == "req-1"
    read = client.get(f"/orders/{order['id']}")
    assert read.status_code == 200
    assert read.json() == order


@pytest.mark.parametrize("order_id", ["5b0e3c0e-0000-4000-8000-000000000000", "a#b", "x" * 65])
def test_unknown_order_is_404(client: TestClient, order_id: str) -> None:
    assert client.get(f"/orders/{order_id}").status_code == 404


def test_an_idempotency_record_is_not_an_order(client: TestClient, dynamodb: Any) -> None:
    client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k"})
    (record,) = [i for i in items(dynamodb, TABLE) if i["kind"]["S"] == "idempotency-key"]
    assert client.get(f"/orders/{record['id']['S']}").status_code == 404


def test_unknown_user_is_422_and_writes_nothing(client: TestClient, dynamodb: Any) -> None:
    response = client.post("/orders", json={**ORDER, "userId": "someone-else"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("userId:")
    assert items(dynamodb, TABLE) == []


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def _slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(TIMEOUT * 10)
    return httpx.Response(200)


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "handler",
    [
        _refused,
        _slow,
        _read_timeout,
        lambda request: httpx.Response(500),
        lambda request: httpx.Response(503),
    ],
    ids=["refused", "slow", "read-timeout", "500", "503"],
)
def test_user_service_unavailable_is_503_and_writes_nothing(
    client: TestClient, dynamodb: Any, users: Users, handler: Handler
) -> None:
    users.handler = handler
    started = time.monotonic()
    response = client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k"})
    # Half the slow downstream's delay: a missing timeout still fails, a loaded machine not.
    assert time.monotonic() - started < TIMEOUT * 5
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "user-service" in response.json()["message"]
    assert items(dynamodb, TABLE) == []


def test_a_retry_with_the_same_key_returns_the_first_order(
    client: TestClient, dynamodb: Any, users: Users
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/orders", json=ORDER, headers=headers)
    second = client.post("/orders", json=ORDER, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(orders_in(dynamodb)) == 1
    # A retry is answered from the table, even with user-service gone.
    users.handler = _refused
    third = client.post("/orders", json=ORDER, headers=headers)
    assert third.status_code == 201
    assert third.json()["id"] == first.json()["id"]


def test_without_a_key_each_post_is_an_order(client: TestClient, dynamodb: Any) -> None:
    first = client.post("/orders", json=ORDER).json()
    second = client.post("/orders", json=ORDER).json()
    assert first["id"] != second["id"]
    assert len(orders_in(dynamodb)) == 2


def test_a_key_reused_for_a_different_order_is_422(client: TestClient, dynamodb: Any) -> None:
    headers = {"Idempotency-Key": "order-43"}
    assert client.post("/orders", json=ORDER, headers=headers).status_code == 201
    other = {**ORDER, "items": [{"sku": "book-2", "quantity": 1}]}
    response = client.post("/orders", json=other, headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["message"]
    assert len(orders_in(dynamodb)) == 1


def test_a_request_that_loses_the_race_for_its_key_returns_the_winner(
    client: TestClient, dynamodb: Any, users: Users
) -> None:
    # While this request checks its user, another request with the same key creates its order:
    # this one's transaction is then cancelled and it answers with the other's order.
    store = OrderStore(dynamodb, TABLE)
    winner = {"id": "winner", "userId": USER, "items": ORDER["items"], "status": "created"}
    check = known_users(USER)

    def racing(request: httpx.Request) -> httpx.Response:
        from order_service.main import NewOrder, fingerprint

        store.create(winner, "2026-01-01T00:00:00Z", "race", fingerprint(NewOrder(**ORDER)))
        return check(request)

    users.handler = racing
    response = client.post("/orders", json=ORDER, headers={"Idempotency-Key": "race"})
    assert response.status_code == 201
    assert response.json()["id"] == "winner"
    assert [o["id"]["S"] for o in orders_in(dynamodb)] == ["winner"]


def test_the_store_writes_an_order_and_its_key_together(dynamodb: Any) -> None:
    create_table(dynamodb, TABLE)
    store = OrderStore(dynamodb, TABLE)
    order = {"id": "o1", "userId": USER, "items": ORDER["items"], "status": "created"}
    store.create(order, "2026-01-01T00:00:00Z", "k", "f")
    with pytest.raises(KeyTakenError):
        store.create({**order, "id": "o2"}, "2026-01-01T00:00:00Z", "k", "f")
    assert sorted(i["id"]["S"] for i in items(dynamodb, TABLE) if i["kind"]["S"] == "order") == [
        "o1"
    ]
    replay = store.replay("k")
    assert replay is not None and replay.order["id"] == "o1" and replay.fingerprint == "f"


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b'{"userId": "u", "items": [', JSON, 400, "body"),
        (b'{"items": [{"sku": "a", "quantity": 1}]}', JSON, 422, "userId"),
        (b'{"userId": "u"}', JSON, 422, "items"),
        (b'{"userId": 12, "items": [{"sku": "a", "quantity": 1}]}', JSON, 422, "userId"),
        (b'{"userId": "a/b", "items": [{"sku": "a", "quantity": 1}]}', JSON, 422, "userId"),
        (b'{"userId": "u", "items": []}', JSON, 422, "items"),
        (b'{"userId": "u", "items": "a"}', JSON, 422, "items"),
        (b'{"userId": "u", "items": [{"quantity": 1}]}', JSON, 422, "items[0].sku"),
        (b'{"userId": "u", "items": [{"sku": "a"}]}', JSON, 422, "items[0].quantity"),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": 0}]}',
            JSON,
            422,
            "items[0].quantity",
        ),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": -3}]}',
            JSON,
            422,
            "items[0].quantity",
        ),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": "2"}]}',
            JSON,
            422,
            "items[0].quantity",
        ),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": 1.5}]}',
            JSON,
            422,
            "items[0].quantity",
        ),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": true}]}',
            JSON,
            422,
            "items[0].quantity",
        ),
        (
            b'{"userId": "u", "items": [{"sku": "a", "quantity": 1}, {"sku": 5, "quantity": 1}]}',
            JSON,
            422,
            "items[1].sku",
        ),
        (b'{"userId": "u", "items": [{"sku": "a", "quantity": 1}], "x": 1}', JSON, 422, "x"),
        (b"null", JSON, 422, "body"),
    ],
    ids=[
        "malformed-json",
        "missing-userId",
        "missing-items",
        "userId-a-number",
        "userId-with-a-slash",
        "no-items",
        "items-not-a-list",
        "missing-sku",
        "missing-quantity",
        "quantity-0",
        "quantity-negative",
        "quantity-a-string",
        "quantity-a-fraction",
        "quantity-a-boolean",
        "second-sku-a-number",
        "unknown-field",
        "null",
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient,
    dynamodb: Any,
    users: Users,
    body: bytes,
    headers: dict[str, str],
    status: int,
    field: str,
) -> None:
    response = client.post("/orders", content=body, headers=headers)
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert message.startswith(f"{field}:") or f"; {field}:" in message, message
    assert users.requests == []  # rejected before the user check
    assert items(dynamodb, TABLE) == []


def test_too_many_items_or_too_large_a_quantity_is_422(client: TestClient) -> None:
    many = {"userId": USER, "items": [{"sku": "a", "quantity": 1}] * 101}
    assert client.post("/orders", json=many).json()["fields"][0]["field"] == "items"
    huge = {"userId": USER, "items": [{"sku": "a", "quantity": 1001}]}
    assert client.post("/orders", json=huge).json()["fields"][0]["field"] == "items[0].quantity"


def test_an_empty_or_overlong_idempotency_key_is_422(client: TestClient, dynamodb: Any) -> None:
    for key in ("", "k" * 256):
        response = client.post("/orders", json=ORDER, headers={"Idempotency-Key": key})
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json()["message"]
    assert items(dynamodb, TABLE) == []


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_64_kib_is_413(
    client: TestClient, dynamodb: Any, users: Users, streamed: bool
) -> None:
    body = b'{"userId": "u", "items": [' + b'{"sku": "a", "quantity": 1},' * 3000 + b"]}"
    assert len(body) > 65_536
    content = chunks(body) if streamed else body
    response = client.post("/orders", content=content, headers=JSON)
    assert response.status_code == 413
    assert users.requests == []
    assert items(dynamodb, TABLE) == []


def test_health_depends_on_nothing(aws: None) -> None:
    settings = Settings(table_name="missing", region=REGION, user_service_url="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
