"""The whole system, as `make local` runs it: DynamoDB Local, moto's SNS and SQS, the relay and
the three services as processes on 127.0.0.1 (DynamoDB Local listens on every interface), with
the dev stack's task environments; requests go through the gateway.

Every process is stopped when the module's tests end, whatever their outcome; every request
has a timeout, and every loop a bound.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apps.conftest import items, running_local_system

# Processes on real ports: make test-all.
pytestmark = pytest.mark.slow

REQUEST_TIMEOUT = 10.0
CONCURRENT_ORDERS = 100
AT_A_TIME = 20


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_system(tmp_path_factory.mktemp("local-system")) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(system: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway_url, timeout=REQUEST_TIMEOUT) as client:
        yield client


def user_check_timeout(system: Any) -> float:
    """How long order-service waits for user-service: its dev task's setting, or 2 s."""
    return float(system.environments["order-service"].get("USER_SERVICE_TIMEOUT_SECONDS", "2"))


def logged_requests(system: Any, service: str, request_id: str) -> list[dict[str, Any]]:
    """The service's request log lines with this request id."""
    log = (system.log_dir / f"{service}.log").read_text()
    return [
        entry
        for entry in (json.loads(line) for line in log.splitlines() if line.startswith("{"))
        if entry.get("requestId") == request_id and entry.get("message") == "request"
    ]


def orders_table(system: Any) -> list[dict[str, Any]]:
    """The orders and idempotency keys in order-service's table (not its view of users, which
    events change at any time)."""
    return [
        item
        for item in items(system.dynamodb(), system.table("order-service"))
        if item["kind"]["S"] in ("order", "idempotency-key")
    ]


def orders_of(system: Any, user_id: str) -> list[str]:
    return sorted(
        item["id"]["S"]
        for item in orders_table(system)
        if item["kind"]["S"] == "order" and item["userId"]["S"] == user_id
    )


def new_user(gateway: httpx.Client) -> dict[str, Any]:
    name = f"user-{uuid.uuid4().hex[:8]}"
    response = gateway.post("/users", json={"name": name, "email": f"{name}@example.com"})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_dev_task_environments_are_used(system: Any) -> None:
    order_env = system.environments["order-service"]
    assert order_env["USER_SERVICE_URL"] == system.urls["user-service"]
    assert order_env["TABLE_NAME"] == system.table("order-service")
    gateway_env = system.environments["api-gateway"]
    assert gateway_env["ORDER_SERVICE_URL"] == system.urls["order-service"]
    assert all(url.startswith("http://127.0.0.1:") for url in system.urls.values())


def test_a_user_and_an_order_through_the_gateway(gateway: httpx.Client) -> None:
    user = new_user(gateway)
    assert gateway.get(f"/users/{user['id']}").json() == user
    order_request = {"userId": user["id"], "items": [{"sku": "book-1", "quantity": 2}]}
    created = gateway.post("/orders", json=order_request)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["userId"] == user["id"]
    assert order["items"] == order_request["items"]
    assert order["status"] == "created"
    read = gateway.get(f"/orders/{order['id']}")
    assert read.status_code == 200
    assert read.json() == order


def test_an_unknown_user_gets_422(system: Any, gateway: httpx.Client) -> None:
    before = len(orders_table(system))
    response = gateway.post(
        "/orders", json={"userId": "nobody", "items": [{"sku": "a", "quantity": 1}]}
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("userId:")
    assert len(orders_table(system)) == before


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/users", b'{"name": "Ada", "email": ', 400, "body"),
        ("/users", b'{"name": "Ada"}', 422, "email"),
        (
            "/orders",
            b'{"userId": "u", "items": [{"sku": "a", "quantity": 0}]}',
            422,
            "items[0].quantity",
        ),
        (
            "/orders",
            b'{"userId": "u", "items": [{"sku": "a", "quantity": "1"}]}',
            422,
            "items[0].quantity",
        ),
        (
            "/orders",
            b'{"userId": "u", "items": [{"sku": "' + b"a" * 70_000 + b'", "quantity": 1}]}',
            413,
            "body",
        ),
    ],
    ids=["malformed-json", "missing-field", "quantity-0", "quantity-a-string", "over-64-KiB"],
)
def test_bad_input_through_the_gateway(
    gateway: httpx.Client, path: str, body: bytes, status: int, field: str
) -> None:
    response = gateway.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["message"].startswith(f"{field}:")


def test_a_retried_post_with_the_same_key_creates_one_order(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)
    body = {"userId": user["id"], "items": [{"sku": "pen", "quantity": 3}]}
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    answers = [gateway.post("/orders", json=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    assert orders_of(system, user["id"]) == [answers[0].json()["id"]]


def test_the_request_id_reaches_every_service(system: Any, gateway: httpx.Client) -> None:
    # A user order-service has not heard of: it asks user-service (for a known user its own
    # view answers, and the request stops there).
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = gateway.post(
        "/orders",
        json={"userId": str(uuid.uuid4()), "items": [{"sku": "a", "quantity": 1}]},
        headers={"X-Request-Id": request_id},
    )
    assert response.status_code == 422, response.text
    assert response.headers["x-request-id"] == request_id
    # A service writes its request line once the response is sent: wait for it, 5 s at most.
    services = ("api-gateway", "order-service", "user-service")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        missing = [s for s in services if not logged_requests(system, s, request_id)]
        if not missing:
            break
        time.sleep(0.05)
    assert not missing, f"no request line with the request id in {missing}"


def test_100_concurrent_orders_are_all_stored_and_readable(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)

    async def create_all() -> list[httpx.Response]:
        limit = asyncio.Semaphore(AT_A_TIME)
        async with httpx.AsyncClient(
            base_url=system.gateway_url, timeout=REQUEST_TIMEOUT
        ) as client:

            async def create(number: int) -> httpx.Response:
                async with limit:
                    return await client.post(
                        "/orders",
                        json={
                            "userId": user["id"],
                            "items": [{"sku": f"sku-{number}", "quantity": 1}],
                        },
                    )

            return await asyncio.gather(*(create(n) for n in range(CONCURRENT_ORDERS)))

    answers = asyncio.run(asyncio.wait_for(create_all(), timeout=120))
    assert [a.status_code for a in answers] == [201] * CONCURRENT_ORDERS
    ids = sorted(a.json()["id"] for a in answers)
    assert len(set(ids)) == CONCURRENT_ORDERS
    assert orders_of(system, user["id"]) == ids
    for answer in answers:
        read = gateway.get(f"/orders/{answer.json()['id']}")
        assert read.status_code == 200
        assert read.json() == answer.json()


def test_a_slow_user_service_gets_503_within_the_timeout_and_writes_nothing(
    system: Any, gateway: httpx.Client
) -> None:
    # A user order-service has had no event of: it asks user-service.
    user = {"id": f"unheard-of-{uuid.uuid4().hex[:12]}"}
    before = orders_table(system)
    users = system.processes["user-service"]
    users.signal(signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        response = gateway.post(
            "/orders",
            json={"userId": user["id"], "items": [{"sku": "a", "quantity": 1}]},
            headers={"Idempotency-Key": f"slow-{uuid.uuid4()}"},
        )
        elapsed = time.monotonic() - started
    finally:
        users.signal(signal.SIGCONT)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    # The user check's timeout ends it, bounded by the budget the gateway passed on: not before
    # it, and (with the 503, not the gateway's 504) before the gateway's own wait.
    assert 1.0 < elapsed < user_check_timeout(system) + 3
    assert orders_table(system) == before


def test_with_user_service_stopped_only_what_needs_it_fails(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)
    order = gateway.post(
        "/orders", json={"userId": user["id"], "items": [{"sku": "a", "quantity": 1}]}
    ).json()
    before = orders_table(system)
    system.stop_service("user-service")
    try:
        assert gateway.get("/health").status_code == 200
        read = gateway.get(f"/orders/{order['id']}")
        assert read.status_code == 200 and read.json() == order
        assert gateway.get(f"/users/{user['id']}").status_code == 502
        started = time.monotonic()
        # A user it knows from events is served without user-service (tests/test_events_e2e.py);
        # one it has not heard of needs user-service, and is refused.
        response = gateway.post(
            "/orders",
            json={
                "userId": f"unheard-of-{uuid.uuid4().hex[:12]}",
                "items": [{"sku": "b", "quantity": 1}],
            },
        )
        # Refused at once, not waited out (under load a request may still take a while).
        assert time.monotonic() - started < user_check_timeout(system) + 3
        assert response.status_code == 503
        assert "user-service" in response.json()["message"]
        assert orders_table(system) == before
    finally:
        system.start_service("user-service")
        system.wait_until_healthy("user-service", timeout=30)
    assert gateway.get(f"/users/{user['id']}").json() == user
