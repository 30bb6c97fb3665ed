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

from offline.delivery.affected import ENVIRONMENTS, Affected, Stack, format_github

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


def test_pull_requests_list_the_stacks_they_affect() -> None:
    job = PULL_REQUEST["jobs"]["affected"]
    assert "if" not in job  # forks too: their offline diff needs the list
    assert job["permissions"] == {"contents": "read"}
    (checkout,) = uses(job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the base branch, to find the merge base
    step = job["steps"][-1]
    # The base branch's name reaches the script through the environment only.
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert 'offline affected --base "origin/$BASE_REF" --head HEAD --format github' in step["run"]
    assert '>> "$GITHUB_OUTPUT"' in step["run"]
    assert job["outputs"] == {
        "stacks": "${{ steps.affected.outputs.stacks }}",
        "names": "${{ steps.affected.outputs.names }}",
    }


def test_pull_requests_preview_the_affected_stacks_with_the_policy_pack() -> None:
    jobs = PULL_REQUEST["jobs"]
    assert PULL_REQUEST["on"] == {"pull_request": {"branches": ["main"]}}
    # The README's test command, the independent scan and the slow tier, as .ci/run runs them.
    assert [s.get("run") for s in jobs["test"]["steps"][-3:]] == [
        "make test",
        "make scan",
        "make test-all",
    ]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line.startswith("make ")] == [
        "make scan",
        "make test",
        "make test-all",
    ]
    preview = jobs["preview"]
    assert preview["if"] == (
        "github.event.pull_request.head.repo.full_name == github.repository"
        " && needs.affected.outputs.stacks != '[]'"
    )
    assert preview["needs"] == ["test", "affected"]
    assert preview["strategy"] == {
        "fail-fast": False,
        "matrix": {"include": "${{ fromJSON(needs.affected.outputs.stacks) }}"},
    }
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
    (aws,) = uses(preview, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert preview["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }


def test_forks_get_the_offline_diff_of_the_affected_stacks_without_credentials() -> None:
    job = PULL_REQUEST["jobs"]["offline-diff"]
    assert "if" not in job  # every pull request, forks included
    assert job["needs"] == "affected"
    assert job["permissions"] == {"contents": "read"}
    assert "env" not in job
    step = job["steps"][-1]
    assert step["env"] == {"STACKS": "${{ needs.affected.outputs.names }}"}
    script = step["run"]
    assert "for stack in $STACKS; do" in script
    assert "offline diff" in script and "--format markdown" in script
    assert "$GITHUB_STEP_SUMMARY" in script
    assert "secrets." not in yaml.safe_dump(job)


def test_pull_request_summary_carries_the_cost_of_each_affected_stack() -> None:
    script = PULL_REQUEST["jobs"]["offline-diff"]["steps"][-1]["run"]
    base, no_base = script.split("else", 1)
    # With a base document, the diff's markdown (its first lines are the cost change); without
    # one, the stack's own estimate.
    assert (
        'offline diff "base-$stack.json" "$stack" --format markdown >> "$GITHUB_STEP_SUMMARY"'
        in base
    )
    assert 'offline cost --stack "$stack"' in no_base
    assert no_base.index("offline cost") < no_base.index("fi")
    assert '} >> "$GITHUB_STEP_SUMMARY"' in no_base


DEPLOY_JOBS = ("all-in-one-development", "all-in-one-production", "platform", "services")
BOTH_RESULTS = "(needs.{0}.result == 'success' || needs.{0}.result == 'skipped')"


def test_deploys_start_from_the_tested_affected_stacks() -> None:
    assert set(DEPLOY["on"]) == {"push", "workflow_dispatch"}
    assert DEPLOY["on"]["push"] == {"branches": ["main"]}
    assert set(DEPLOY["jobs"]) == {"affected", *DEPLOY_JOBS}
    job = DEPLOY["jobs"]["affected"]
    assert job["if"] == "github.ref == 'refs/heads/main'"  # manual runs too
    assert job["permissions"] == {"contents": "read"}
    (checkout,) = uses(job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the commit before the push
    runs = [s.get("run", "") for s in job["steps"]]
    assert runs.index("make test") < len(runs) - 1  # tests gate every deploy
    step = job["steps"][-1]
    assert step["env"] == {
        "EVENT": "${{ github.event_name }}",
        "BEFORE": "${{ github.event.before }}",
        "STACKS": "${{ inputs.stacks }}",
    }
    assert 'args=(--base "$BEFORE" --head "$GITHUB_SHA")' in step["run"]
    assert 'args+=(--stack "$name")' in step["run"]  # a manual run names its stacks
    assert 'offline affected "${args[@]}" --format github' in step["run"]
    assert job["outputs"] == {
        key: f"${{{{ steps.affected.outputs.{key} }}}}" for key in DEPLOY_JOBS
    }


def test_deploy_order_development_first_then_platforms_then_services() -> None:
    jobs = DEPLOY["jobs"]
    assert jobs["all-in-one-development"]["needs"] == "affected"
    assert jobs["all-in-one-production"]["needs"] == ["affected", "all-in-one-development"]
    assert jobs["platform"]["needs"] == ["affected", "all-in-one-development"]
    assert jobs["services"]["needs"] == ["affected", "all-in-one-development", "platform"]
    for name in DEPLOY_JOBS[1:]:
        # Runs when what it waits for deployed or had nothing to deploy, never after a
        # failure, and not once the run is cancelled.
        condition = jobs[name]["if"]
        assert condition.startswith("!cancelled() && "), name
        assert "always()" not in condition
        assert "needs.affected.result == 'success'" in condition
        assert BOTH_RESULTS.format("all-in-one-development") in condition
    assert BOTH_RESULTS.format("platform") in jobs["services"]["if"]


@pytest.mark.parametrize("name", DEPLOY_JOBS)
def test_each_affected_stack_deploys_alone_with_its_own_role(name: str) -> None:
    job = DEPLOY["jobs"][name]
    assert "github.ref == 'refs/heads/main'" in job["if"]
    assert f"needs.affected.outputs.{name} != '[]'" in job["if"]
    assert job["strategy"] == {
        "fail-fast": False,
        "matrix": {"include": f"${{{{ fromJSON(needs.affected.outputs.{name}) }}}}"},
    }
    # One deploy per stack at a time; a queued one waits rather than cancelling.
    assert job["concurrency"] == {
        "group": "deploy-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    (aws,) = uses(job, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars[matrix.role-variable] }}"
    check = next(s for s in job["steps"] if s.get("name") == "Check the stack's deploy role is set")
    assert job["steps"].index(check) < job["steps"].index(aws)
    assert check["env"]["ROLE_ARN"] == "${{ vars[matrix.role-variable] }}"
    (pulumi,) = uses(job, "pulumi/actions")
    assert pulumi["with"] == {
        "command": "up",
        "pulumi-version": "3.272.0",
        "stack-name": "${{ matrix.stack }}",
        "policyPacks": "policy",
        "policyPackConfigs": "${{ matrix.policy-config }}",
    }
    outputs = job["steps"][-1]
    assert outputs["env"] == {"STACK": "${{ matrix.stack }}"}
    assert 'pulumi stack output --stack "$STACK" --json' in outputs["run"]
    assert "$GITHUB_STEP_SUMMARY" in outputs["run"]


def test_production_deploys_wait_for_the_production_environment() -> None:
    jobs = DEPLOY["jobs"]
    assert jobs["all-in-one-development"]["environment"] == "development"
    assert jobs["all-in-one-production"]["environment"] == "production"
    # A split stack's environment is its own (a platform) or its platform's (a service stack).
    for name in ("platform", "services"):
        assert jobs[name]["environment"] == "${{ matrix.environment }}"
    assert set(ENVIRONMENTS) == {"development", "production"}  # the only values it takes
    production = Stack(name="prod-api-gateway", kind="service", environment="production")
    assert production.matrix_entry()["environment"] == "production"


def test_workflows_read_only_what_the_affected_command_writes() -> None:
    entry = Stack(name="prod", kind="platform", environment="production").matrix_entry()
    written = {line.split("=", 1)[0] for line in format_github(Affected(stacks=())).splitlines()}
    for name, workflow in (("pull-request.yml", PULL_REQUEST), ("deploy.yml", DEPLOY)):
        text = (WORKFLOWS / name).read_text()
        assert set(re.findall(r"matrix\.([\w-]+)", text)) <= set(entry), name
        outputs = workflow["jobs"]["affected"]["outputs"]
        for value in outputs.values():
            step_output = re.fullmatch(r"\$\{\{ steps\.affected\.outputs\.([\w-]+) \}\}", value)
            assert step_output is not None and step_output[1] in written, value
        assert set(re.findall(r"needs\.affected\.outputs\.([\w-]+)", text)) <= set(outputs), name
