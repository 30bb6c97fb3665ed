"""The API's edge (docs/apps.md, "The API's edge"), tried as a client would: raw HTTP/1.1 on a
socket, through the gateway, to user-service and order-service, all three served by uvicorn
with the services' protocol in this process (the gateway reaches each service in process, and
DynamoDB is moto's mock). The same requests against the processes `make local` runs:
test_edge_e2e.py."""

from __future__ import annotations

import json
import re
import socket
import time
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api_gateway.main import Downstream
from api_gateway.main import Settings as GatewaySettings
from api_gateway.main import create_app as gateway_app
from order_service.main import Settings as OrderSettings
from order_service.main import create_app as order_app
from service_kit import (
    NON_BLANK_TEXT_PATTERN,
    REFUSED_RANGES,
    TEXT_PATTERN,
    TEXT_REFUSED,
    RequestContext,
    duplicate_json_key,
    install_error_handlers,
    refused_path,
)
from tests.apps.conftest import (
    REGION,
    Address,
    create_table,
    exchange,
    json_request,
    raw_request,
    serving,
    waits_for_close,
)
from user_service.main import EMAIL_PATTERN
from user_service.main import Settings as UserSettings
from user_service.main import create_app as user_app

USERS_TABLE = "edge-users"
ORDERS_TABLE = "edge-orders"


@pytest.fixture(scope="module")
def gateway(_mocked_dynamodb: Any) -> Iterator[Address]:
    """The gateway's address; behind it, user-service and order-service in process."""
    for table in (USERS_TABLE, ORDERS_TABLE):
        create_table(_mocked_dynamodb, table)
    users = user_app(UserSettings(USERS_TABLE, REGION), dynamodb=_mocked_dynamodb)
    orders = order_app(
        OrderSettings(ORDERS_TABLE, REGION, "http://users.test"),
        dynamodb=_mocked_dynamodb,
        user_transport=httpx.ASGITransport(users),
    )
    settings = GatewaySettings(
        downstreams=(
            Downstream("user-service", "/users", "http://users.test", 3),
            Downstream("order-service", "/orders", "http://orders.test", 3),
        )
    )
    transports = {
        "user-service": httpx.ASGITransport(users),
        "order-service": httpx.ASGITransport(orders),
    }
    try:
        with serving(gateway_app(settings, transports=transports)) as address:
            yield address
    finally:
        for table in (USERS_TABLE, ORDERS_TABLE):
            _mocked_dynamodb.delete_table(TableName=table)


def created(address: Address, path: str, document: dict[str, Any]) -> dict[str, Any]:
    answer = exchange(address, json_request(path, json.dumps(document).encode()))
    assert answer.status == 201, answer.body
    return answer.json()


@pytest.fixture(scope="module")
def user(gateway: Address) -> dict[str, Any]:
    return created(gateway, "/users", {"name": "Ada", "email": "ada@example.com"})


@pytest.fixture(scope="module")
def order(gateway: Address, user: dict[str, Any]) -> dict[str, Any]:
    return created(
        gateway, "/orders", {"userId": user["id"], "items": [{"sku": "a", "quantity": 1}]}
    )


# --- no redirect names an internal address ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/orders/{order}/"),
        ("POST", "/users/"),
        ("GET", "/users/{user}/"),
        ("GET", "/health/"),
    ],
)
def test_a_trailing_slash_is_404_not_a_redirect(
    gateway: Address, user: dict[str, Any], order: dict[str, Any], method: str, target: str
) -> None:
    target = target.format(order=order["id"], user=user["id"])
    if method == "POST":
        data = json_request(target, b'{"name": "Ada", "email": "ada@example.com"}')
    else:
        data = raw_request(method, target)
    answer = exchange(gateway, data)
    assert answer.status == 404 and "location" not in answer.headers
    answer.error()


# --- dot segments and encoded separators -------------------------------------------------------

REFUSED_TARGETS = [
    "/orders/../health",
    "/orders/%2e%2e/health",
    "/orders/%2E%2E/health",
    "/orders/.%2e/health",
    "/orders%2F..%2Fhealth",
    "/orders/x%2F..%2F..%2Fhealth",
    "/users/./abc",
    "/users/%2e/abc",
    "/users/abc/..",
    "/users/abc/.",
    "/orders/..%5Chealth",
    "/orders/..\\health",
    "/users/a%2Fb",
    "/users/a%2fb",
]


@pytest.mark.parametrize("target", REFUSED_TARGETS)
def test_dot_segments_and_encoded_separators_are_400(gateway: Address, target: str) -> None:
    answer = exchange(gateway, raw_request("GET", target))
    assert answer.status == 400
    assert answer.error()["message"].startswith("path: refused, it has ")


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (b"/users/abc", None),
        (b"/users/a.b", None),
        (b"/users/..a", None),
        (b"/users/a%20b", None),
        (b"/users/%41", None),
        (b"/users/a%2fb", "an encoded / or \\"),
        (b"/users/a%5Cb", "an encoded / or \\"),
        (b"/users/a\\b", "a backslash"),
        (b"/users/%2E%2e", "a . or .. segment"),
        (b"/users/../x", "a . or .. segment"),
        (b"/users/./x", "a . or .. segment"),
        (b"/users/%ff/..", "a . or .. segment"),
    ],
)
def test_refused_path(path: bytes, refused: str | None) -> None:
    assert refused_path(path) == refused


def test_other_percent_encoding_is_routed_and_passed_on(gateway: Address) -> None:
    answer = exchange(gateway, raw_request("GET", "/users/%41b%2Dc"))
    assert answer.status == 404
    assert answer.error()["message"] == "no user 'Ab-c'"


# --- what the HTTP parser refuses is the JSON error body ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        raw_request("POST", "/users", headers="Content-Length: abc\r\n"),
        raw_request("POST", "/users", headers="Content-Length: -1\r\n"),
        raw_request("POST", "/users", headers="Content-Length: +2\r\n", body=b"{}"),
        raw_request("POST", "/users", headers="Content-Length: 2\r\nContent-Length: 3\r\n"),
        raw_request("GET", b"/orders/\xc3\xa9"),
        raw_request("GET", "/orders/a b"),
        raw_request("POST", "/users", headers="Transfer-Encoding: chunked\r\n", body=b"zz\r\n"),
        b"GET /health HTTP/1.1\r\nHost: api\r\nBad Header\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
    ],
    ids=[
        "content-length-abc",
        "content-length-minus-1",
        "content-length-plus-2",
        "two-content-lengths",
        "raw-utf-8-in-the-path",
        "space-in-the-path",
        "bad-chunk-size",
        "header-without-colon",
        "no-request-line",
    ],
)
def test_what_the_parser_refuses_is_the_json_error(gateway: Address, data: bytes) -> None:
    answer = exchange(gateway, data)
    assert answer.status == 400
    assert answer.error()["message"] == "the request is not valid HTTP/1.1"
    assert answer.headers["connection"] == "close" and answer.closed
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])


def test_a_good_request_then_a_bad_one_on_one_connection(gateway: Address) -> None:
    with socket.create_connection(gateway, timeout=5) as sock:
        sock.sendall(
            raw_request("GET", "/health")
            + raw_request("POST", "/users", headers="Content-Length: x\r\n")
        )
        received, closed_after = waits_for_close(sock, 5)
    assert closed_after is not None
    first, second = received.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 ") and first.endswith(b'{"status":"ok"}')
    head, _, body = second.partition(b"\r\n\r\n")
    assert head.startswith(b"400 ") and b"connection: close" in head
    assert json.loads(body) == {"status": 400, "message": "the request is not valid HTTP/1.1"}


# --- HEAD wherever GET; 405 with Allow ------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/health", 200),
        ("/openapi.json", 200),
        ("/users/{user}", 200),
        ("/orders/{order}", 200),
        ("/orders/unknown", 404),
        ("/nowhere", 404),
    ],
)
def test_head_is_answered_wherever_get_is(
    gateway: Address, user: dict[str, Any], order: dict[str, Any], target: str, status: int
) -> None:
    target = target.format(user=user["id"], order=order["id"])
    got = exchange(gateway, raw_request("GET", target))
    head = exchange(gateway, raw_request("HEAD", target), head=True)
    assert got.status == head.status == status
    assert head.headers["content-length"] == str(len(got.body)) == got.headers["content-length"]
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.rest == b""  # no body


@pytest.mark.parametrize(
    ("method", "target", "allow"),
    [
        ("PUT", "/health", "GET, HEAD"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/orders/{order}", "GET, HEAD"),
        ("PATCH", "/users/{user}", "DELETE, GET, HEAD"),
        ("OPTIONS", "/users/{user}", "DELETE, GET, HEAD"),
        ("OPTIONS", "/orders/{order}", "GET, HEAD"),
        ("GET", "/users", "POST"),
        ("HEAD", "/orders", "POST"),
        ("PUT", "/openapi.json", "GET, HEAD"),
        ("BREW", "/health", "GET, HEAD"),
    ],
)
def test_an_unknown_method_on_a_known_path_is_405_with_allow(
    gateway: Address,
    user: dict[str, Any],
    order: dict[str, Any],
    method: str,
    target: str,
    allow: str,
) -> None:
    target = target.format(user=user["id"], order=order["id"])
    data = raw_request(method, target, headers="Content-Length: 0\r\n")
    answer = exchange(gateway, data, head=method == "HEAD")
    assert answer.status == 405
    assert answer.headers["allow"] == allow
    if method != "HEAD":
        answer.error()


# --- the text rule, a field at a time ------------------------------------------------------------

REFUSED_SAMPLES = [
    "\u0000",
    "\u0001",
    "\u001b",
    "\u007f",
    "\u0085",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u2028",
    "\ufeff",
    "\U000e0041",
]


def _text_field_request(field: str, text: str, user_id: str) -> bytes:
    """A request whose `field` holds `text`, everything else valid."""
    key = f"k-{uuid.uuid4()}"
    if field in ("name", "email"):
        document = {"name": "Ada", "email": "ada@example.com"}
        document[field] = text + document[field]
        return json_request("/users", json.dumps(document).encode())
    order = {"userId": user_id, "items": [{"sku": "book", "quantity": 1}]}
    if field == "items[0].sku":
        order["items"][0]["sku"] = "bo" + text + "ok"
    else:
        order["userId"] = text + user_id
    return json_request(
        "/orders", json.dumps(order).encode(), headers=f"Idempotency-Key: {key}\r\n"
    )


@pytest.mark.parametrize("field", ["name", "email", "items[0].sku", "userId"])
@pytest.mark.parametrize("text", REFUSED_SAMPLES, ids=lambda t: f"U+{ord(t):04X}")
def test_a_json_text_field_refuses_control_and_format_characters(
    gateway: Address, user: dict[str, Any], field: str, text: str
) -> None:
    answer = exchange(gateway, _text_field_request(field, text, user["id"]))
    assert answer.status == 422, answer.body
    (problem,) = answer.error()["fields"]
    assert problem["field"] == field
    assert problem["message"].startswith(f"U+{ord(text):04X} at position ")


@pytest.mark.parametrize(
    "raw_value",
    [b"a\x01b", b"a\x1fb", b"a\x7fb", "a\u202eb".encode(), "a\u0085b".encode()],
    ids=["U+0001", "U+001F", "U+007F", "U+202E-as-UTF-8", "U+0085-as-UTF-8"],
)
def test_the_idempotency_key_header_refuses_control_and_format_characters(
    gateway: Address, user: dict[str, Any], raw_value: bytes
) -> None:
    body = json.dumps({"userId": user["id"], "items": [{"sku": "b", "quantity": 1}]}).encode()
    data = json_request(
        "/orders", body, headers="Idempotency-Key: " + raw_value.decode("latin-1") + "\r\n"
    )
    answer = exchange(gateway, data)
    assert answer.status == 422, answer.body
    (problem,) = answer.error()["fields"]
    assert problem["field"] == "header Idempotency-Key"
    # Header values are bytes, read as Latin-1: UTF-8's U+202E is E2 80 AE, and 80 is a C1 control.
    assert "is a control or format character" in problem["message"]


def test_the_refused_set_is_unicodes_control_and_format_characters() -> None:
    """REFUSED_RANGES is Cc, Cf, Zl and Zp as of Unicode 15.0; this interpreter's Unicode may
    be older (Python 3.11: 14.0), in which case what it does not assign yet (Cn) is the
    difference."""
    refused = {code for start, end in REFUSED_RANGES for code in range(start, end + 1)}
    categories = {code: unicodedata.category(chr(code)) for code in range(0x110000)}
    wanted = {code for code, category in categories.items() if category in ("Cc", "Cf", "Zl", "Zp")}
    assert wanted <= refused
    assert {categories[code] for code in refused - wanted} <= {"Cn"}
    assert re.compile(f"[{TEXT_REFUSED}]").findall("".join(map(chr, sorted(refused)))) == [
        chr(code) for code in sorted(refused)
    ]


def test_the_published_patterns_are_read_alike_by_python_and_ecma_262() -> None:
    """Escapes both read alike only: \\uXXXX, \\s, \\S, \\. (not Python's \\U, \\N, \\A, \\Z)."""
    for pattern in (TEXT_PATTERN, NON_BLANK_TEXT_PATTERN, EMAIL_PATTERN):
        assert not re.search(r"\\[UNAZ]", pattern)
        assert re.sub(r"\\u[0-9a-f]{4}|\\[sS.]|[^\\]", "", pattern) == "", pattern


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (NON_BLANK_TEXT_PATTERN, "Ada", True),
        (NON_BLANK_TEXT_PATTERN, " A ", True),
        (NON_BLANK_TEXT_PATTERN, "   ", False),
        (NON_BLANK_TEXT_PATTERN, "", False),
        (NON_BLANK_TEXT_PATTERN, "A\u202eda", False),
        (NON_BLANK_TEXT_PATTERN, "A\U000e0041", False),
        (NON_BLANK_TEXT_PATTERN, "Zoë 🙂 李", True),
        (EMAIL_PATTERN, "a@b.c", True),
        (EMAIL_PATTERN, " a@b.c ", True),
        (EMAIL_PATTERN, "a @b.c", False),
        (EMAIL_PATTERN, "a@b", False),
        (EMAIL_PATTERN, "a\u0000@b.c", False),
        (TEXT_PATTERN, "", True),
        (TEXT_PATTERN, "a\tb", False),
    ],
)
def test_the_published_patterns(pattern: str, text: str, matches: bool) -> None:
    assert bool(re.fullmatch(pattern, text)) is matches


# --- duplicates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/users", b'{"name":"first","name":"second","email":"a@example.com"}', "name"),
        (
            "/orders",
            b'{"userId":"nobody","userId":"{user}","items":[{"sku":"a","quantity":1}]}',
            "userId",
        ),
        ("/orders", b'{"userId":"{user}","items":[{"sku":"a","sku":"b","quantity":1}]}', "sku"),
    ],
)
def test_a_key_repeated_in_a_json_object_is_400(
    gateway: Address, user: dict[str, Any], path: str, body: bytes, key: str
) -> None:
    answer = exchange(gateway, json_request(path, body.replace(b"{user}", user["id"].encode())))
    assert answer.status == 400
    assert answer.error()["message"] == f"body: the key {key!r} is repeated in one object"


@pytest.mark.parametrize("same", [False, True], ids=["two-values", "one-value-twice"])
def test_idempotency_key_sent_twice_is_400(
    gateway: Address, user: dict[str, Any], same: bool
) -> None:
    body = json.dumps({"userId": user["id"], "items": [{"sku": "a", "quantity": 1}]}).encode()
    first = f"k-{uuid.uuid4()}"
    second = first if same else f"k-{uuid.uuid4()}"
    headers = f"Idempotency-Key: {first}\r\nidempotency-key: {second}\r\n"
    answer = exchange(gateway, json_request("/orders", body, headers=headers))
    assert answer.status == 400
    assert answer.error()["message"] == "header Idempotency-Key: sent more than once"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"a": 1, "b": {"a": 2}}', None),
        (b'{"a": 1, "a": 1}', "a"),
        (b'[{"x": 1}, {"x": 2, "y": {"z": 1, "z": 2}}]', "z"),
        (b"not json", None),
        (b"[" * 100_000, None),
    ],
)
def test_duplicate_json_key(body: bytes, key: str | None) -> None:
    assert duplicate_json_key(body) == key


# --- a client that stops sending -------------------------------------------------------------

SHORT = 0.5


def stalled_app() -> FastAPI:
    import logging

    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContext, logger=logging.getLogger("test-service"), body_timeout=SHORT)

    @app.post("/echo")
    async def echo(document: dict[str, Any]) -> dict[str, Any]:
        return document

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture(scope="module")
def stalled() -> Iterator[Address]:
    """A service whose body and head timeouts are SHORT, and whose keep-alive is 3 SHORT."""
    with serving(stalled_app(), head_timeout=SHORT, keep_alive=3 * SHORT) as address:
        yield address


def test_a_body_that_stops_arriving_is_408_and_the_connection_closed(stalled: Address) -> None:
    with socket.create_connection(stalled, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(
            raw_request(
                "POST",
                "/echo",
                headers="Content-Type: application/json\r\nContent-Length: 100\r\n",
                body=b'{"a":',
            )
        )
        received, closed_after = waits_for_close(sock, 5)
    assert closed_after is not None and SHORT <= time.monotonic() - started < SHORT + 2
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert json.loads(body) == {
        "status": 408,
        "message": f"body: not received in full within {SHORT:g} s",
    }


def test_a_body_that_trickles_is_bounded_in_all(stalled: Address) -> None:
    with socket.create_connection(stalled, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(
            raw_request(
                "POST", "/echo", headers="Content-Type: application/json\r\nContent-Length: 40\r\n"
            )
        )
        answer = b""
        for _ in range(40):  # a byte every SHORT / 4: each arrives in time, not all of them
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(SHORT / 4)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 3 * SHORT + 1


def test_a_head_that_stops_arriving_is_408_and_the_connection_closed(stalled: Address) -> None:
    with socket.create_connection(stalled, timeout=5) as sock:
        started = time.monotonic()  # before the first byte: the server's timer starts after
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: api\r\nContent-Ty")
        received, closed_after = waits_for_close(sock, 5)
    assert closed_after is not None and SHORT <= time.monotonic() - started < SHORT + 2
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and json.loads(body)["status"] == 408


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_time(
    stalled: Address,
) -> None:
    started = time.monotonic()  # before connecting: the server's timer starts on accepting
    with socket.create_connection(stalled, timeout=5) as sock:
        received, closed_after = waits_for_close(sock, 5)
    elapsed = time.monotonic() - started
    assert received == b"" and closed_after is not None and 3 * SHORT <= elapsed < 3 * SHORT + 2


def test_an_idle_keep_alive_connection_outlives_the_head_timeout(stalled: Address) -> None:
    def health(sock: socket.socket) -> bytes:
        sock.sendall(raw_request("GET", "/health"))
        received = b""
        while not received.endswith(b'{"status":"ok"}'):
            chunk = sock.recv(65536)
            assert chunk, "closed"
            received += chunk
        return received

    with socket.create_connection(stalled, timeout=5) as sock:
        assert health(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(2 * SHORT)  # longer than the head timeout, shorter than the keep-alive
        assert health(sock).startswith(b"HTTP/1.1 200 ")
