"""The API's contract, enforced: schemathesis (requirements.txt) against the processes `make
local` runs, on every operation of the public document the gateway serves and of each service's
internal one, checking for server errors and for status codes, headers, content types and
bodies that the document does not declare. Bounded: MAX_EXAMPLES per operation and phase, a
fixed SEED, and TIME_BOX seconds per document, past which the run is stopped and fails. Any
finding fails the test.

Positive paths are covered: real users and orders are created first, and schemathesis is told
to use their ids (its dictionaries, bound to `userId` and the path ids), so that it creates
orders, not only refusals; the test checks that it did.

By hand, against `make local PORT=8080` (after creating a user and an order):

    .venv/bin/schemathesis --config-file schemathesis.toml run http://127.0.0.1:8080/openapi.json \\
        --checks <CHECKS> --max-examples 50 --seed 42 --generation-database none
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps.conftest import running_local_system

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = 50
SEED = 42
TIME_BOX = 240.0
"""Seconds a document's run may take (about 15 s on two cores); schemathesis's own --max-time
is a budget it fills, not a bound, so the run is stopped from here."""
REQUEST_TIMEOUT = 10.0
SEEDED = 3
SPARE = 60
"""Users per document for the path's user id: DELETE /users/{user_id} deletes some of them, and
the seeded users, whose ids orders take, are never among them."""
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
)
"""Every check but the two about authentication, which this API does not have."""
DOCUMENTS = {
    "public": "api-gateway",
    "user-service": "user-service",
    "order-service": "order-service",
}
"""Each document and the service that serves it at GET /openapi.json."""
_ID = "[A-Za-z0-9-]+"
POSITIVE = {
    "public": [
        ("POST", "/users", 201),
        ("GET", f"/users/{_ID}", 200),
        ("DELETE", f"/users/{_ID}", 204),
        ("POST", "/orders", 201),
        ("GET", f"/orders/{_ID}", 200),
    ],
    "user-service": [
        ("POST", "/users", 201),
        ("GET", f"/users/{_ID}", 200),
        ("DELETE", f"/users/{_ID}", 204),
    ],
    "order-service": [("POST", "/orders", 201), ("GET", f"/orders/{_ID}", 200)],
}
"""Answers each run must have brought about (in the log of the service that serves the
document): what is created, and what is read, not only refused."""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_system(tmp_path_factory.mktemp("contract")) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(system: Any) -> dict[str, list[str]]:
    """Per document that places orders, the ids of SEEDED users and of an order for each
    (`users-<document>`, `orders-<document>`); per document that has DELETE /users/{user_id},
    SPARE users for the path's id (`spare-<document>`). Each run has users of its own: a run
    may delete a user whose id it saw in an answer (schemathesis infers such links), and a
    later run's orders for that user would all be refused."""
    found: dict[str, list[str]] = {}
    with httpx.Client(base_url=system.gateway_url, timeout=10) as client:

        def create_user(label: str) -> str:
            user = {"name": label, "email": f"{label.replace(' ', '.').lower()}@example.com"}
            created = client.post("/users", json=user)
            assert created.status_code == 201, created.text
            return str(created.json()["id"])

        for document in ("public", "user-service"):
            found[f"spare-{document}"] = [
                create_user(f"Spare {document} {n}") for n in range(SPARE)
            ]
        for document in ("public", "order-service"):
            users = [create_user(f"Seed {document} {n}") for n in range(SEEDED)]
            orders = []
            for user_id in users:
                order = {"userId": user_id, "items": [{"sku": "seed", "quantity": 1}]}
                created = client.post("/orders", json=order)
                assert created.status_code == 201, created.text
                orders.append(created.json()["id"])
            found[f"users-{document}"], found[f"orders-{document}"] = users, orders
    return found


def configuration(document: str, seeded: dict[str, list[str]]) -> str:
    """schemathesis.toml for one document: the seeded ids, bound to the parameters that take
    them, and the business rules under which POST /orders refuses schema-valid input."""
    lines = [
        f'[dictionaries."{name}"]\nvalues = {json.dumps(ids)}\n' for name, ids in seeded.items()
    ]
    parameters = {
        "public": {
            "body.userId": ("users-public", 0.9),
            "path.user_id": ("spare-public", 0.5),
        },
        "user-service": {"path.user_id": ("spare-user-service", 0.5)},
        "order-service": {"body.userId": ("users-order-service", 0.9)},
    }[document]
    if document != "user-service":
        parameters["path.order_id"] = (f"orders-{document}", 0.5)
    lines.append("[parameters]")
    lines += [
        f'"{name}" = {{ dictionary = "{dictionary}", probability = {probability} }}'
        for name, (dictionary, probability) in parameters.items()
    ]
    if document != "user-service":
        # 422 for a valid order is documented: a userId that is no user, an Idempotency-Key
        # already used with another body (as draft-ietf-httpapi-idempotency-key-header says).
        lines.append(
            '\n[[operations]]\ninclude-name = "POST /orders"\n'
            'checks.positive_data_acceptance.expected-statuses = ["2xx", "422"]'
        )
    return "\n".join(lines) + "\n"


def answered(system: Any, service: str) -> dict[tuple[str, str, int], int]:
    """How many requests `service` has logged, by method, path (as POSITIVE has it) and status."""
    log = (system.log_dir / f"{service}.log").read_text()
    counts: dict[tuple[str, str, int], int] = {}
    for line in log.splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("message") != "request":
            continue
        for method, path, status in POSITIVE["public"]:
            if (entry.get("method"), entry.get("status")) == (method, status) and re.fullmatch(
                path, entry.get("path", "")
            ):
                counts[method, path, status] = counts.get((method, path, status), 0) + 1
    return counts


def figures(output: str) -> dict[str, int]:
    """Operations tested, test cases generated and findings, from the run's summary."""
    tested = re.search(r"Tested: (\d+)", output)
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) unique failures?", output)
    return {
        "operations": int(tested.group(1)) if tested else 0,
        "cases": int(generated.group(1)) if generated else 0,
        "findings": int(failures.group(1)) if failures else 0,
    }


@pytest.mark.parametrize("document", list(DOCUMENTS))
def test_schemathesis_finds_nothing(
    system: Any, seeded: dict[str, list[str]], document: str, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(configuration(document, seeded))
    service = DOCUMENTS[document]
    url = system.urls[service]
    before = answered(system, service)
    command = [
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    started = time.monotonic()
    try:
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=TIME_BOX, cwd=tmp_path, check=False
        )
    except subprocess.TimeoutExpired as stopped:
        pytest.fail(f"schemathesis ran past {TIME_BOX:g} s on {document}: {stopped.stdout!r}")
    seconds = time.monotonic() - started
    found = figures(run.stdout)
    after = answered(system, service)
    brought_about = {key: after.get(key, 0) - before.get(key, 0) for key in POSITIVE[document]}
    print(f"schemathesis {document}: {found}, {brought_about}, {seconds:.1f} s")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert found["findings"] == 0 and found["cases"] > 0
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert found["operations"] == sum(len(item) for item in paths.values())
    assert all(count > 0 for count in brought_about.values()), brought_about
