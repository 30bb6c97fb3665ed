"""The API's edge against the processes `make local` runs (scripts/local.py), through the
gateway, with raw sockets: test_edge.py's requests, and the body and head time limits as the
images have them (BODY_TIMEOUT_SECONDS, HEAD_TIMEOUT_SECONDS)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from api_gateway.main import PUBLIC_OPENAPI
from service_kit import BODY_TIMEOUT_SECONDS, HEAD_TIMEOUT_SECONDS
from tests.apps.conftest import (
    Address,
    exchange,
    raw_request,
    running_local_system,
    waits_for_close,
)

# The same requests as in process, here against the real processes: each test below is
# test_edge.py's, with the `gateway` fixture of this module.
from tests.apps.test_edge import (  # noqa: F401 - collected here too
    order,
    test_a_good_request_then_a_bad_one_on_one_connection,
    test_a_json_text_field_refuses_control_and_format_characters,
    test_a_key_repeated_in_a_json_object_is_400,
    test_a_trailing_slash_is_404_not_a_redirect,
    test_an_unknown_method_on_a_known_path_is_405_with_allow,
    test_dot_segments_and_encoded_separators_are_400,
    test_head_is_answered_wherever_get_is,
    test_idempotency_key_sent_twice_is_400,
    test_other_percent_encoding_is_routed_and_passed_on,
    test_the_idempotency_key_header_refuses_control_and_format_characters,
    test_what_the_parser_refuses_is_the_json_error,
    user,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Address]:
    with running_local_system(tmp_path_factory.mktemp("edge")) as system:
        url = urlsplit(system.gateway_url)
        assert url.hostname is not None and url.port is not None
        yield url.hostname, url.port


def test_a_body_or_a_head_that_stops_arriving_is_408_and_the_connection_closed(
    gateway: Address,
) -> None:
    requests = {
        "body": raw_request(
            "POST",
            "/users",
            headers="Content-Type: application/json\r\nContent-Length: 100\r\n",
            body=b'{"name": "a',
        ),
        "head": b"POST /users HTTP/1.1\r\nHost: api\r\nContent-Ty",
    }
    limits = {"body": BODY_TIMEOUT_SECONDS, "head": HEAD_TIMEOUT_SECONDS}
    results: dict[str, tuple[bytes, float | None]] = {}

    def stall(kind: str) -> None:
        with socket.create_connection(gateway, timeout=5) as sock:
            sock.sendall(requests[kind])
            results[kind] = waits_for_close(sock, limits[kind] + 10)

    threads = [threading.Thread(target=stall, args=(kind,)) for kind in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(limits.values()) + 20)
    for kind, (received, closed_after) in results.items():
        assert closed_after is not None, f"{kind}: still open"
        assert limits[kind] - 0.5 < closed_after < limits[kind] + 3, (kind, closed_after)
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
        answer: dict[str, Any] = json.loads(body)
        assert answer["status"] == 408 and answer["message"]
    assert set(results) == set(requests)


def test_the_gateway_serves_the_public_document(gateway: Address) -> None:
    answer = exchange(gateway, raw_request("GET", "/openapi.json"))
    assert answer.status == 200
    assert answer.json() == json.loads(PUBLIC_OPENAPI.read_text())
