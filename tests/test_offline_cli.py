"""`python -m offline preview`: what a newcomer and a reviewer see."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.calls import callers_of
from offline.__main__ import main
from offline.preview.report import preview_text
from offline.render.environments import environment_document
from offline.render.harness import Rendering
from offline.render.stackfile import available_stacks
from services import CATALOG
from tests.conftest import render_with

PROJECT = Path(__file__).resolve().parent.parent


def services_table(text: str) -> dict[str, list[str]]:
    """The preview's services table: ECS name -> its cells (columns are 2+ spaces apart)."""
    lines = text.split("\nServices:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]
    return {row[0]: row for row in rows}


def expected_row(name: str) -> list[str]:
    """A service's row in the dev preview, from its spec and the dev stack file."""
    spec = CATALOG[name]
    services = environment_document("dev").get("microservices:services") or {}
    config: dict[str, Any] = services.get(name) or {}
    band = config.get("autoscaling")
    count = f"({band['minCount']}..{band['maxCount']})" if band else "(fixed)"
    routes = [
        f"{' '.join((*route.path_patterns, *route.host_patterns))} (priority {route.priority})"
        for route in spec.routes
    ]
    callers = [*callers_of(name, CATALOG), *(["load balancer"] if spec.routes else [])]
    # CPU and memory for every service, running tasks while there is a minimum, and 5xx rate,
    # unhealthy targets and latency for a routed one; dev's release alarms only notify unless
    # the stack file turns rollback on.
    minimum = band["minCount"] if band else config.get("desiredCount", 1)
    release = 3 if spec.routes else (1 if minimum > 0 else 0)
    alarms = 2 + (1 if minimum > 0 else 0) + (3 if spec.routes else 0)
    rollback = (config.get("alarms") or {}).get("rollback", False)
    return [
        name,
        f"{spec.discovery_name}.dev.internal",
        str(spec.container_port),
        f"{config.get('cpu', 256)}/{config.get('memory', 512)}",
        f"{config.get('desiredCount', 1)} {count}",
        (config.get("deployment") or {}).get("strategy", "rolling"),
        f"{alarms} ({release if rollback else 0} roll back)",
        f"built from {spec.build}"
        if spec.build and not config.get("image")
        else config.get("image", spec.image),
        ", ".join(routes) or "-",
        ", ".join(sorted(callers)) or "-",
    ]


def test_preview_prints_tree_services_and_outputs(
    capsys: pytest.CaptureFixture[str], dev: Rendering
) -> None:
    assert main(["preview", "--stack", "dev"]) == 0
    text = capsys.readouterr().out
    assert " + pulumi:pulumi:Stack" in text
    assert "└─ microservices:platform:Platform" in text
    assert "aws:ecs/service:Service" in text and "dev-order-service" in text
    # Every registered resource, and the stack itself.
    assert f" {len(dev.resources) + 1}  to create, with the stack (resources that awsx" in text
    assert "url: http://${dev-ingress-alb.dnsName}  (known after deploy)" in text
    table = services_table(text)
    assert sorted(table) == sorted(CATALOG)
    routes = 8  # the column of routes
    for name in CATALOG:
        row, expected = table[name], expected_row(name)
        assert row[:routes] + row[routes + 1 :] == expected[:routes] + expected[routes + 1 :], name
        # The routes of a service, in any order.
        assert set(row[routes].split(", ")) == set(expected[routes].split(", ")), name
    assert "albDnsName: (known after deploy: dev-ingress-alb.dnsName)" in text


def test_unknown_stack_lists_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "staging"]) == 2
    assert capsys.readouterr().err == (
        "error: no stack 'staging': Pulumi.staging.yaml does not exist (stacks: "
        f"{', '.join(available_stacks())})\n"
    )


def test_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    # A copy of the project with one bad value, run as a user would run it.
    for name in ("Pulumi.yaml", "__main__.py", "naming.py"):
        (tmp_path / name).write_text((PROJECT / name).read_text())
    for package in ("components", "config", "services", "offline"):
        (tmp_path / package).symlink_to(PROJECT / package)
    stack = (PROJECT / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(stack.replace("maxCount: 3", "maxCount: 0"))
    result = subprocess.run(
        [sys.executable, "-m", "offline", "preview", "--stack", "dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: invalid config for stack 'dev' (1 problem):",
        "  services.order-service.autoscaling.maxCount: 0 is out of range (allowed: >= 1); "
        "fix: pulumi config set --path 'services.order-service.autoscaling.maxCount' 1",
    ]


def test_the_preview_says_when_the_certificate_is_still_the_placeholder(prod: Rendering) -> None:
    arn = (environment_document("prod").get("microservices:loadBalancer") or {}).get(
        "certificateArn"
    )
    real = "arn:aws:acm:us-east-1:111122223333:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    with_real = render_with("prod", [("loadBalancer.certificateArn", real)])
    assert "Before `pulumi up`:" not in preview_text(with_real)
    placeholder = (
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    )
    shown = (
        prod
        if arn == placeholder
        else render_with("prod", [("loadBalancer.certificateArn", placeholder)])
    )
    text = preview_text(shown)
    assert (
        "Before `pulumi up`:\n"
        f"    loadBalancer.certificateArn is still the stack file's placeholder ({placeholder}): "
        "this preview shows the HTTPS listener with it, and `pulumi up` refuses it; fix: pulumi "
        "config set --path 'loadBalancer.certificateArn' "
        "'arn:aws:acm:us-east-1:<account>:certificate/<id>' (README.md, A first real deploy)\n"
    ) in text
