"""Adding a service keeps `make test` green.

A copy of the project gets a fourth service as the README's "Adding a service" describes: a
module in services/ with its own route, called by an existing service, sized in prod's stack
file. After `make docs`, lint and the tests run on the copy as they run here, so a test that
pins the three-service catalog fails here rather than in the next pull request that adds one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# A copy of the project and its test suite: make test-all.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # seconds for the copy's test run, which takes about a minute

# Not copied: virtualenvs, git and caches, which the copy neither needs nor should share.
SKIPPED_PATHS = {".venv", ".venv-scan", ".git", "policy/venv"}
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"}
# Not run in the copy, to keep this test near a minute: this test (it would copy the copy),
# and tests whose outcome does not depend on the catalog: the validator's property test (the
# slowest), the CI workflow checks, the secrets check (five CLI runs) and the applications'.
NOT_RUN = (
    "--ignore=tests/test_fourth_service.py",
    "--ignore=tests/test_config_fuzz.py",
    "--ignore=tests/test_workflows.py",
    # The applications' own tests and the local system's: they run the three applications.
    "--ignore=tests/apps",
    "--ignore=tests/test_e2e.py",
    "--deselect=tests/test_offline_tools.py::test_secrets_never_appear_in_any_output",
)

PAYMENT_SERVICE = """from services.spec import RouteSpec, ServiceSpec

SPEC = ServiceSpec(
    name="payment-service",
    discovery_name="payments",
    container_name="payments",
    routes=(RouteSpec(priority=100, path_patterns=("/payments", "/payments/*")),),
)
"""
# Production runs every service on two tasks or more; dev keeps the defaults (one fixed task).
PROD_SIZING: dict[str, Any] = {
    "cpu": 512,
    "memory": 1024,
    "desiredCount": 2,
    "autoscaling": {"minCount": 2, "maxCount": 4, "requestsPerTarget": 500},
}


def _ignore(directory: str, names: list[str]) -> set[str]:
    relative = Path(directory).relative_to(PROJECT)
    return {
        name
        for name in names
        if name in SKIPPED_NAMES or (relative / name).as_posix() in SKIPPED_PATHS
    }


def add_payment_service(copy: Path) -> None:
    (copy / "services" / "payment_service.py").write_text(PAYMENT_SERVICE)
    # order-service now calls payment-service, whatever else its spec says.
    order = copy / "services" / "order_service.py"
    order.write_text(
        "import dataclasses\n\n"
        + order.read_text()
        + '\nSPEC = dataclasses.replace(SPEC, calls=(*SPEC.calls, "payment-service"))\n'
    )
    prod = copy / "Pulumi.prod.yaml"
    document = yaml.safe_load(prod.read_text())
    document["config"]["microservices:services"]["payment-service"] = PROD_SIZING
    prod.write_text(yaml.safe_dump(document, sort_keys=False))


def run(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def shown(result: subprocess.CompletedProcess[str], lines: int = 200) -> str:
    """The end of a command's output, where pytest puts its summary."""
    output = (result.stdout + result.stderr).splitlines()
    return "\n".join(output[-lines:])


def test_a_fourth_service_keeps_make_test_green(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy, ignore=_ignore)
    add_payment_service(copy)

    # The copy really has the fourth service, called by order-service and routed by the ALB.
    preview = run(copy, "-m", "offline", "preview", "--stack", "prod", "--json")
    assert preview.returncode == 0, shown(preview)
    names = {r["name"] for r in json.loads(preview.stdout)["resources"]}
    missing = {
        "prod-payment-service-ecs",
        "prod-payment-service-rule-100",
        "prod-payment-service-from-order-service",
        "prod-payment-service-from-alb",
    } - names
    assert not missing, f"the copy's prod stack lacks {sorted(missing)}"

    # The README's graph and services table follow the catalog: stale until `make docs`.
    check = run(copy, "scripts/gen_docs.py", "--check")
    assert check.returncode == 1, shown(check)
    assert check.stdout.splitlines()[:2] == [
        "stale: README.md <!-- graph: prod -->",
        "stale: README.md <!-- services -->",
    ]
    docs = run(copy, "scripts/gen_docs.py")
    assert docs.returncode == 0, shown(docs)
    assert "payment-service" in (copy / "README.md").read_text()

    # `make test`: lint what the addition touched (a module name with a hyphen fails), then
    # the tests.
    for lint in (["check", "services"], ["format", "--check", "services"]):
        result = run(copy, "-m", "ruff", *lint)
        assert result.returncode == 0, shown(result)
    tests = run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short", *NOT_RUN)
    assert tests.returncode == 0, (
        "with a fourth service in the catalog, these tests fail; derive what they expect from "
        "services.CATALOG and the stack files instead of the three services:\n" + shown(tests)
    )
