"""The GitHub Actions workflows, checked statically: GitHub's schema, a security linter, and
the structure that makes previews and deploys safe."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True; give it back its name.
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True)
    return document


PULL_REQUEST = load("pull-request.yml")
DEPLOY = load("deploy.yml")


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]


def test_workflows_match_githubs_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dependabot = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.dependabot",
            str(ROOT / ".github" / "dependabot.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_worse() -> None:
    # The whole repository: workflows and the Dependabot configuration.
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "completed" in result.stderr and "pull-request.yml" in result.stderr, result.stderr
    findings = json.loads(result.stdout)
    serious = [
        f"{f['ident']}: {f['desc']}"
        for f in findings
        if f["determinations"]["severity"] in ("Medium", "High")
    ]
    assert serious == []


@pytest.mark.parametrize("workflow", [PULL_REQUEST, DEPLOY], ids=["pull-request", "deploy"])
def test_least_privilege_and_pinned_actions(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}  # nothing by default; each job asks for its own
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        assert job["permissions"].get("contents") == "read", name
        assert set(job["permissions"]) <= {"contents", "id-token", "pull-requests"}, name
        needs_oidc = bool(uses(job, "aws-actions/configure-aws-credentials"))
        assert (job["permissions"].get("id-token") == "write") == needs_oidc, name
    for step in steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        # Nothing from the event (titles, branch names) is interpolated into a script.
        assert "github.event" not in step.get("run", "")


@pytest.mark.parametrize("workflow", [PULL_REQUEST, DEPLOY], ids=["pull-request", "deploy"])
def test_aws_credentials_only_through_oidc(workflow: dict[str, Any]) -> None:
    text = yaml.safe_dump(workflow)
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for job in workflow["jobs"].values():
        for step in uses(job, "aws-actions/configure-aws-credentials"):
            assert set(step["with"]) >= {"role-to-assume", "aws-region"}


def test_pull_requests_preview_both_stacks_with_the_policy_pack() -> None:
    jobs = PULL_REQUEST["jobs"]
    assert PULL_REQUEST["on"] == {"pull_request": {"branches": ["main"]}}
    # The README's test command, then the independent scan, as .ci/run does.
    assert [s.get("run") for s in jobs["test"]["steps"][-2:]] == ["make test", "make scan"]
    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    matrix = preview["strategy"]["matrix"]["include"]
    assert [(m["stack"], m["policy-config"]) for m in matrix] == [
        ("dev", "policy/config/development.json"),
        ("prod", "policy/config/production.json"),
    ]
    (pulumi,) = uses(preview, "pulumi/actions")
    assert pulumi["with"] == {
        "command": "preview",
        "pulumi-version": "3.272.0",
        "stack-name": "${{ matrix.stack }}",
        "comment-on-pr": True,
        "policyPacks": "policy",
        "policyPackConfigs": "${{ matrix.policy-config }}",
    }
    # Previews read the stacks with a token of their own, not the deploy tokens.
    assert preview["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_PREVIEW_TOKEN }}"
    assert preview["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }


def test_forks_get_the_offline_diff_without_credentials() -> None:
    job = PULL_REQUEST["jobs"]["offline-diff"]
    assert "if" not in job  # every pull request, forks included
    assert job["permissions"] == {"contents": "read"}
    assert "env" not in job
    script = job["steps"][-1]["run"]
    assert "offline diff" in script and "--format markdown" in script
    assert "$GITHUB_STEP_SUMMARY" in script
    assert "secrets." not in yaml.safe_dump(job)


def test_deploys_dev_then_prod_behind_an_approval() -> None:
    assert set(DEPLOY["on"]) == {"push", "workflow_dispatch"}
    assert DEPLOY["on"]["push"] == {"branches": ["main"]}
    dev, prod = DEPLOY["jobs"]["dev"], DEPLOY["jobs"]["prod"]
    assert prod["needs"] == "dev"
    assert prod["environment"] == "production"
    for stack, job in (("dev", dev), ("prod", prod)):
        assert "github.ref == 'refs/heads/main'" in job["if"]  # manual runs too
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        (pulumi,) = uses(job, "pulumi/actions")
        assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", stack)
        assert pulumi["with"]["policyPacks"] == "policy"
        outputs = job["steps"][-1]["run"]
        assert f"pulumi stack output --stack {stack} --json" in outputs
        assert "$GITHUB_STEP_SUMMARY" in outputs
