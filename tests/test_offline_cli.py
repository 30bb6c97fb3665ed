"""`python -m offline preview`: what a newcomer and a reviewer see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from offline.__main__ import main

PROJECT = Path(__file__).resolve().parent.parent


def test_preview_prints_tree_services_and_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "dev"]) == 0
    text = capsys.readouterr().out
    assert " + pulumi:pulumi:Stack" in text
    assert "└─ microservices:platform:Platform" in text
    assert "aws:ecs/service:Service" in text and "dev-order-service" in text
    assert " 62  to create, with the stack (resources that awsx components" in text
    assert "url: http://${dev-ingress-alb.dnsName}  (known after deploy)" in text
    assert (
        " user-service   users.dev.internal    8080  256/512  1 (1..2)      -"
        "                    api-gateway, order-service"
    ) in text
    assert "albDnsName: (known after deploy: dev-ingress-alb.dnsName)" in text


def test_unknown_stack_lists_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "staging"]) == 2
    assert capsys.readouterr().err == (
        "error: no stack 'staging': Pulumi.staging.yaml does not exist (stacks: dev, prod)\n"
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
