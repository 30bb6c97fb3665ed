"""Shared renders: each real stack is rendered once per test session (about a second each)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from offline.harness import RecordedResource, Rendering, render
from offline.stackfile import (
    config_set_path,
    project_name,
    read_stack_document,
    to_cli_config,
)


@pytest.fixture(scope="session")
def dev() -> Rendering:
    return render("dev")


@pytest.fixture(scope="session")
def prod() -> Rendering:
    return render("prod")


def render_with(
    stack: str, changes: Iterable[tuple[str, str]] = (), *, check: bool = True
) -> Rendering:
    """Render `stack` after `pulumi config set --path <path> <value>` for each change."""
    document: dict[str, Any] = read_stack_document(stack)
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
