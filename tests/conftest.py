"""Shared renders: each real environment is rendered once per test session (about a second
each; once per pytest-xdist worker).

`dev` and `prod` are the environments as one all-in-one stack: the committed stack file if it
is all-in-one, or a platform's file joined with its service stacks' entries
(offline.render.environments), so a test that needs the whole environment holds whichever way the
environment is committed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.render.environments import environment_document, environment_stacks
from offline.render.harness import RecordedResource, Rendering, render
from offline.render.stackfile import PROJECT_DIR, config_set_path, project_name, to_cli_config

# What a copy of the project needs to render its stacks; linked, not copied.
PROGRAM_PARTS = ("Pulumi.yaml", "__main__.py", "naming.py", "components", "config", "services")
PROGRAM_PARTS += ("offline", "apps", "policy")


@pytest.fixture(scope="session")
def dev() -> Rendering:
    return render_with("dev")


@pytest.fixture(scope="session")
def prod() -> Rendering:
    return render_with("prod")


def render_with(
    stack: str, changes: Iterable[tuple[str, str]] = (), *, check: bool = True
) -> Rendering:
    """Render the environment of `stack` as one all-in-one stack, after `pulumi config set
    --path <path> <value>` for each change."""
    document: dict[str, Any] = environment_document(stack)
    for path, value in changes:
        document = config_set_path(document, path, value)
    return render(stack, config=to_cli_config(project_name(), stack, document), check=check)


def render_document(stack: str, document: dict[str, Any], *, check: bool = True) -> Rendering:
    return render(stack, config=to_cli_config(project_name(), stack, document), check=check)


def ecs_service(rendering: Rendering, name: str) -> RecordedResource:
    return next(
        r for r in rendering.of_type("aws:ecs/service:Service") if r.inputs.get("name") == name
    )


def containers(rendering: Rendering, service: str) -> list[dict[str, Any]]:
    """The container definitions of `<stack>-<service>`'s task definition."""
    task = rendering.named(
        f"{rendering.stack}-{service}-task", "aws:ecs/taskDefinition:TaskDefinition"
    )
    return json.loads(task.inputs["containerDefinitions"])


def container(rendering: Rendering, service: str) -> dict[str, Any]:
    """The application container (the essential one) of `<stack>-<service>`'s task."""
    (definition,) = [c for c in containers(rendering, service) if c["essential"]]
    return definition


def environment_of(definition: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in definition["environment"]}


def all_in_one_copy(destination: Path) -> Path:
    """A copy of the project in which every environment is one all-in-one stack (a platform's
    file joined with its service stacks'), for the tests that run the command line on a whole
    environment; its program is the project's own, linked."""
    destination.mkdir(parents=True)
    for part in PROGRAM_PARTS:
        (destination / part).symlink_to(PROJECT_DIR / part)
    for stack in environment_stacks():
        text = yaml.safe_dump({"config": environment_document(stack)}, sort_keys=False)
        (destination / f"Pulumi.{stack}.yaml").write_text(text)
    return destination


@pytest.fixture
def all_in_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory: an all-in-one copy of the project (all_in_one_copy)."""
    copy = all_in_one_copy(tmp_path / "all-in-one")
    monkeypatch.chdir(copy)
    return copy
