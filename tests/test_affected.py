"""`python -m offline affected`: the stacks a change affects, in a git repository holding a
copy of the project whose prod is split into a platform and one stack per service."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.calls import callers_of
from offline.__main__ import main
from services import CATALOG
from tests.split import SplitProject, service_stack_name, split

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
# Every catalog service's stack; what a change to one service affects comes from the catalog.
SERVICE_STACKS = sorted(service_stack_name("prod", name) for name in CATALOG)
NOTHING = {"platform": [], "services": [], "allInOne": []}
EVERYTHING = {"platform": ["prod"], "services": SERVICE_STACKS, "allInOne": ["dev"]}
LEDGER_SERVICE = """from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="ledger-service",
    discovery_name="ledger",
    container_name="ledger",
    calls=("user-service",),
)
"""


def spec_change(*services: str) -> dict[str, list[str]]:
    """What a change to these services' specs affects: the platform and dev (their
    endpoints), their stacks and their callers' (whose tasks get their URLs)."""
    names = set(services).union(*(callers_of(name, CATALOG) for name in services))
    stacks = sorted(service_stack_name("prod", name) for name in names if name in CATALOG)
    return {"platform": ["prod"], "services": stacks, "allInOne": ["dev"]}


def git(directory: Path, *args: str) -> str:
    # Only the repository's own settings count.
    environment = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(
        [*GIT, *args], cwd=directory, env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> SplitProject:
    """The split copy, committed on `main` and tagged `base`: made once, cloned per test."""
    split_project = split(tmp_path_factory.mktemp("template") / "project")
    directory = split_project.directory
    git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", "prod split into a platform and service stacks")
    git(directory, "tag", "base")
    return split_project


@pytest.fixture
def project(
    template: SplitProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SplitProject:
    """A clone of the template (branch `main`, tag `base`), as the working directory."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above it
    directory = tmp_path / "project"
    git(tmp_path, "clone", "-q", str(template.directory), str(directory))
    monkeypatch.chdir(directory)
    return dataclasses.replace(template, directory=directory)


def commit(project: SplitProject, message: str = "change") -> None:
    git(project.directory, "add", "-A")
    git(project.directory, "commit", "-q", "-m", message)


def append(project: SplitProject, path: str, text: str = "\n# changed\n") -> None:
    file = project.directory / path
    file.write_text(file.read_text() + text)


def affected(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["affected", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def affected_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = affected(capsys, "--base", "base", "--head", "HEAD", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def test_the_split_copy_has_a_platform_and_a_stack_per_service(project: SplitProject) -> None:
    assert project.platform == "prod"
    assert sorted(project.service_stacks.values()) == SERVICE_STACKS


def test_a_service_stack_file_affects_that_stack_only(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    append(project, "Pulumi.prod-order-service.yaml", "# one more task soon\n")
    commit(project)
    assert affected_json(capsys) == {**NOTHING, "services": ["prod-order-service"]}


def test_the_platform_stack_file_affects_the_platform_and_its_service_stacks(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its service stacks read its contract (cluster, deployment, logs) at their next deploy.
    append(project, "Pulumi.prod.yaml", "# a platform setting\n")
    commit(project)
    assert affected_json(capsys) == {**NOTHING, "platform": ["prod"], "services": SERVICE_STACKS}


def test_a_services_spec_affects_the_environments_its_stack_and_its_callers(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # api-gateway calls others and nobody calls it: the platform, its stack and dev.
    append(project, "services/api_gateway.py")
    commit(project)
    assert affected_json(capsys) == spec_change("api-gateway")
    assert spec_change("api-gateway")["services"] == ["prod-api-gateway"]


def test_a_callees_spec_affects_its_callers_stacks_too(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # Callers get USER_SERVICE_URL, built from user-service's discovery name and port.
    append(project, "services/user_service.py")
    commit(project)
    assert affected_json(capsys) == spec_change("user-service")
    assert {"prod-order-service", "prod-api-gateway"} <= set(
        spec_change("user-service")["services"]
    )


def test_a_new_service_affects_the_environments_and_no_service_stack_yet(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.directory / "services/ledger_service.py").write_text(LEDGER_SERVICE)
    commit(project, "ledger-service")
    assert affected_json(capsys) == {"platform": ["prod"], "services": [], "allInOne": ["dev"]}


def test_a_removed_service_is_named_from_the_base(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the base knows the module's service, and who called it.
    git(project.directory, "rm", "-q", "services/order_service.py")
    commit(project, "order-service goes")
    assert affected_json(capsys) == spec_change("order-service")
    assert "prod-order-service" in spec_change("order-service")["services"]


def test_a_renamed_module_counts_as_removed_and_added(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    git(project.directory, "mv", "services/api_gateway.py", "services/gateway.py")
    commit(project)
    assert affected_json(capsys) == spec_change("api-gateway")


def test_a_spec_is_read_as_python_builds_it(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # api-gateway starts calling a new service through code, not a literal: a later change
    # to the new service affects api-gateway's stack, as a caller.
    (project.directory / "services/ledger_service.py").write_text(LEDGER_SERVICE)
    append(
        project,
        "services/api_gateway.py",
        "\nimport dataclasses\n\n"
        'SPEC = dataclasses.replace(SPEC, calls=(*SPEC.calls, "ledger-service"))\n',
    )
    commit(project, "ledger-service, called by api-gateway")
    git(project.directory, "tag", "ledger")
    append(project, "services/ledger_service.py")
    commit(project)
    code, out, err = affected(capsys, "--base", "ledger", "--head", "HEAD", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == {
        "platform": ["prod"],
        "services": ["prod-api-gateway"],
        "allInOne": ["dev"],
    }


def test_a_module_that_fails_to_import_affects_every_service_stack(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    append(project, "services/api_gateway.py", "\nraise RuntimeError('half-written')\n")
    commit(project)
    assert affected_json(capsys) == EVERYTHING


def test_a_helper_module_in_services_affects_every_stack(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.directory / "services/defaults.py").write_text("PORT = 8080\n")
    commit(project, "a helper the specs may import")
    assert affected_json(capsys) == EVERYTHING


def test_a_removed_stack_file_affects_nothing_and_is_noted(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    git(project.directory, "rm", "-q", "Pulumi.prod-order-service.yaml")
    commit(project, "order-service's stack goes")
    code, out, err = affected(capsys, "--base", "base", "--head", "HEAD")
    assert (code, out) == (0, "")
    assert "removes Pulumi.prod-order-service.yaml" in err
    assert "pulumi destroy --stack prod-order-service" in err


@pytest.mark.parametrize(
    "path",
    [
        "components/network/network.py",
        "config/schema.py",
        "__main__.py",
        "services/spec.py",
        "requirements.txt",
        "Pulumi.yaml",
        "policy/policies/ecs.py",  # the pack checks every preview and deploy
    ],
)
def test_program_code_affects_every_stack(
    project: SplitProject, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    append(project, path)
    commit(project)
    assert affected_json(capsys) == EVERYTHING


@pytest.mark.parametrize(
    "path",
    ["README.md", "docs/ci-cd.md", "tests/test_stacks.py", "offline/preview/graph.py", "Makefile"],
)
def test_docs_tests_and_tools_affect_no_stack(
    project: SplitProject, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    append(project, path, "\n")
    commit(project)
    assert affected(capsys, "--base", "base", "--head", "HEAD") == (0, "", "")
    assert affected_json(capsys) == NOTHING


def test_text_lists_platforms_then_service_stacks_then_all_in_one(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    append(project, "components/compute/cluster.py")
    commit(project)
    code, out, _ = affected(capsys, "--base", "base", "--head", "HEAD")
    assert code == 0
    assert out.splitlines() == ["prod", *SERVICE_STACKS, "dev"]


def test_the_diff_starts_where_head_left_base(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # A commit on main after the branch left it is not part of the branch's change.
    git(project.directory, "switch", "-q", "-c", "feature")
    append(project, "Pulumi.prod-user-service.yaml", "# feature\n")
    commit(project)
    git(project.directory, "switch", "-q", "main")
    append(project, "components/compute/cluster.py")
    commit(project)
    code, out, err = affected(capsys, "--base", "main", "--head", "feature")
    assert (code, out) == (0, "prod-user-service\n"), err


def test_without_head_the_working_tree_counts(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # Uncommitted and untracked files, but not what .gitignore ignores.
    append(project, "Pulumi.prod-user-service.yaml", "# not committed\n")
    (project.directory / "services/ledger_service.py").write_text(LEDGER_SERVICE)
    (project.directory / ".venv").mkdir()
    (project.directory / ".venv/ignored.py").write_text("# would affect every stack\n")
    code, out, err = affected(capsys, "--base", "base", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == {
        "platform": ["prod"],
        "services": ["prod-user-service"],
        "allInOne": ["dev"],
    }


def test_github_format_gives_matrices_with_environment_policy_and_role(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    append(project, "components/compute/cluster.py")
    commit(project)
    code, out, err = affected(capsys, "--base", "base", "--head", "HEAD", "--format", "github")
    assert code == 0, err
    outputs = dict(line.split("=", 1) for line in out.splitlines())
    assert list(outputs) == [
        "stacks",
        "platform",
        "services",
        "all-in-one-development",
        "all-in-one-production",
        "names",
    ]
    assert outputs["names"] == " ".join(["prod", *SERVICE_STACKS, "dev"])
    matrices = {key: json.loads(value) for key, value in outputs.items() if key != "names"}
    assert matrices["platform"] == [
        {
            "stack": "prod",
            "kind": "platform",
            "environment": "production",
            "policy-config": "policy/config/production.json",
            "role-variable": "AWS_DEPLOY_ROLE_ARN_PROD",
        }
    ]
    (gateway,) = [m for m in matrices["services"] if m["stack"] == "prod-api-gateway"]
    assert gateway == {
        "stack": "prod-api-gateway",
        "kind": "service",
        "environment": "production",  # its platform's
        "policy-config": "policy/config/production.json",
        "role-variable": "AWS_DEPLOY_ROLE_ARN_PROD_API_GATEWAY",
    }
    # The all-in-one stacks keep the environment's role, as before the split.
    assert matrices["all-in-one-development"] == [
        {
            "stack": "dev",
            "kind": "all-in-one",
            "environment": "development",
            "policy-config": "policy/config/development.json",
            "role-variable": "AWS_DEPLOY_ROLE_ARN",
        }
    ]
    assert matrices["all-in-one-production"] == []
    assert [m["stack"] for m in matrices["stacks"]] == ["prod", *SERVICE_STACKS, "dev"]


def test_named_stacks_or_all_of_them_for_manual_runs(
    project: SplitProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = affected(capsys, "--stack", "prod-user-service", "--stack", "dev")
    assert (code, out) == (0, "prod-user-service\ndev\n")
    code, out, _ = affected(capsys, "--all")
    assert out.splitlines() == ["prod", *SERVICE_STACKS, "dev"]
    code, out, err = affected(capsys, "--stack", "staging")
    assert (code, out) == (2, "")
    assert err.startswith("error: no stack staging (stacks: dev, prod, ")


@pytest.mark.parametrize("revision", ["no-such-branch", "--output=x", "base~5"])
def test_a_bad_revision_is_a_user_error(
    project: SplitProject, capsys: pytest.CaptureFixture[str], revision: str
) -> None:
    code, out, err = affected(capsys, f"--base={revision}")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: '{revision}' is not a commit of this repository"), err


def test_outside_a_git_checkout_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "Pulumi.yaml").write_text("name: microservices\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = affected(capsys, "--base", "main")
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path} is not in a git checkout\n"


def test_the_command_line_as_ci_runs_it(project: SplitProject) -> None:
    append(project, "Pulumi.prod-api-gateway.yaml", "# ci\n")
    commit(project)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "offline",
            "affected",
            "--base",
            "base",
            "--head",
            "HEAD",
            "--format",
            "github",
        ],
        cwd=project.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "names=prod-api-gateway\n" in result.stdout
