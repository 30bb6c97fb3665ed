"""api-gateway: what it forwards, and how a failing downstream fails only its own routes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api_gateway.main import Downstream, Settings, create_app
from tests.apps.conftest import big_body, chunks

TIMEOUT = 0.5
Handler = Callable[[httpx.Request], Any]


class Service:
    """A stand-in downstream: what it answers, and what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[httpx.Request] = []
        self.handler: Handler = self.echo

    def echo(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"service": self.name, "path": request.url.path},
            headers={"X-Served-By": self.name},
        )

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        result = self.handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result


@pytest.fixture
def users() -> Service:
    return Service("user-service")


@pytest.fixture
def orders() -> Service:
    return Service("order-service")


@pytest.fixture
def client(users: Service, orders: Service) -> Iterator[TestClient]:
    settings = Settings(
        downstreams=(
            Downstream("user-service", "/users", "http://users.test:8080", TIMEOUT),
            Downstream("order-service", "/orders", "http://orders.test:8080", TIMEOUT),
        )
    )
    transports = {
        "user-service": httpx.MockTransport(users),
        "order-service": httpx.MockTransport(orders),
    }
    with TestClient(create_app(settings, transports=transports)) as test_client:
        yield test_client


def test_health(client: TestClient, users: Service, orders: Service) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert users.requests == orders.requests == []


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/users", "user-service"),
        ("/users/abc", "user-service"),
        ("/orders", "order-service"),
        ("/orders/abc/items", "order-service"),
    ],
)
def test_routes_by_prefix(client: TestClient, path: str, service: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"service": service, "path": path}
    assert response.headers["x-served-by"] == service


@pytest.mark.parametrize("path", ["/", "/usersx", "/ordersabc", "/payments/1"])
def test_other_paths_are_404(client: TestClient, path: str, users: Service) -> None:
    assert client.get(path).status_code == 404
    assert users.requests == []


def test_forwards_method_path_query_body_and_headers(client: TestClient, orders: Service) -> None:
    orders.handler = lambda request: httpx.Response(
        201, json={"id": "o1"}, headers={"Location": "/orders/o1", "Retry-After": "7"}
    )
    response = client.post(
        "/orders?dry=1&note=a%20b",
        content=b'{"userId": "u"}',
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": "key-1",
            "X-Request-Id": "req-123",
            "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Connection": "X-Private",
            "X-Private": "for the gateway only",
        },
    )
    assert response.status_code == 201
    assert response.json() == {"id": "o1"}
    assert response.headers["location"] == "/orders/o1"
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-request-id"] == "req-123"
    (forwarded,) = orders.requests
    assert forwarded.method == "POST"
    assert str(forwarded.url) == "http://orders.test:8080/orders?dry=1&note=a%20b"
    assert forwarded.content == b'{"userId": "u"}'
    assert forwarded.headers["content-type"] == "application/json"
    assert forwarded.headers["idempotency-key"] == "key-1"
    assert forwarded.headers["x-request-id"] == "req-123"
    assert forwarded.headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert forwarded.headers["host"] == "orders.test:8080"
    assert "x-private" not in forwarded.headers


def test_a_generated_request_id_is_passed_on(client: TestClient, users: Service) -> None:
    response = client.get("/users/abc")
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    assert users.requests[0].headers["x-request-id"] == generated


def test_an_encoded_path_is_passed_on_as_received(client: TestClient, users: Service) -> None:
    client.get("/users/a%20b%41")
    assert users.requests[0].url.raw_path == b"/users/a%20b%41"


@pytest.mark.parametrize("path", ["/users/a%2Fb", "/users/a%5cb", "/users/%2e%2e/x"])
def test_an_encoded_separator_or_dot_segment_is_400_and_not_forwarded(
    client: TestClient, users: Service, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["message"].startswith("path: refused")
    assert users.requests == []


def test_head_is_forwarded_as_get_and_answered_without_a_body(
    client: TestClient, users: Service
) -> None:
    response = client.head("/users/abc")
    assert response.status_code == 200
    assert response.content == b""
    assert [r.method for r in users.requests] == ["GET"]


def test_an_unknown_method_on_the_gateways_own_path_is_405(client: TestClient) -> None:
    response = client.put("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json() == {"status": 405, "message": "Method Not Allowed"}


def test_downstream_errors_pass_through(client: TestClient, orders: Service) -> None:
    body = {"status": 503, "message": "user-service is unavailable"}
    orders.handler = lambda request: httpx.Response(503, json=body, headers={"Retry-After": "1"})
    response = client.post("/orders", json={})
    assert response.status_code == 503
    assert response.json() == body
    assert response.headers["retry-after"] == "1"


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _broken(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected without a response", request=request)


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _pool_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.PoolTimeout("no connection available", request=request)


async def _slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(TIMEOUT * 10)
    return httpx.Response(200)


@pytest.mark.parametrize(
    ("handler", "status"),
    [(_refused, 502), (_broken, 502), (_read_timeout, 504), (_slow, 504), (_pool_timeout, 503)],
    ids=["refused", "bad-response", "read-timeout", "slow", "pool-full"],
)
def test_a_failing_downstream_fails_only_its_routes(
    client: TestClient, users: Service, orders: Service, handler: Handler, status: int
) -> None:
    users.handler = handler
    started = time.monotonic()
    response = client.get("/users/abc")
    # Half the slow downstream's delay: a missing timeout still fails, a loaded machine not.
    assert time.monotonic() - started < TIMEOUT * 5
    assert response.status_code == status
    assert response.json()["message"].startswith("user-service ")
    assert ("retry-after" in response.headers) == (status == 503)
    assert client.get("/orders/abc").status_code == 200
    assert client.get("/health").status_code == 200


def test_a_body_over_64_kib_is_413_and_not_forwarded(client: TestClient, users: Service) -> None:
    body = big_body(70_000)
    headers = {"Content-Type": "application/json"}
    assert client.post("/users", content=body, headers=headers).status_code == 413
    assert client.post("/users", content=chunks(body), headers=headers).status_code == 413
    assert users.requests == []


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "USER_SERVICE_URL": "http://users.dev.internal:8080/",
            "ORDER_SERVICE_URL": "http://orders.dev.internal:8080",
            "ORDER_SERVICE_TIMEOUT_SECONDS": "1.5",
        }
    )
    users, orders = settings.downstreams
    assert (users.url, users.timeout) == ("http://users.dev.internal:8080", 3.0)
    assert (orders.url, orders.timeout) == ("http://orders.dev.internal:8080", 1.5)


def test_the_response_body_is_json_with_a_message(client: TestClient, users: Service) -> None:
    users.handler = _refused
    body = client.get("/users/abc").content
    assert set(json.loads(body)) == {"status", "message"}


def test_the_budget_passed_downstream_is_less_than_the_gateways_own_wait(
    client: TestClient, orders: Service
) -> None:
    from service_kit import BUDGET_HEADER, HOP_MARGIN_SECONDS

    # A client's own budget is not passed on: the gateway sets it from its timeout.
    response = client.post(
        "/orders", content=b"{}", headers={BUDGET_HEADER: "999999", "Content-Type": "text/x"}
    )
    assert response.status_code == 200
    (forwarded,) = orders.requests
    assert forwarded.headers.get_list(BUDGET_HEADER) == [
        str(int((TIMEOUT - HOP_MARGIN_SECONDS) * 1000))
    ]
    assert int(forwarded.headers[BUDGET_HEADER]) / 1000 < TIMEOUT
