"""An environment's stack files, whichever way it is laid out.

An environment is one all-in-one stack, or a platform stack (`serviceStacks: true`) with the
service stacks that name it (`platform: <org>/<project>/<stack>`). Its all-in-one equivalent,
the platform's stack file with every service stack's `services` entries, registers exactly
what the split registers (docs/split-stacks.md): the offline tools and the tests read that
when they need the whole environment, whatever the committed layout.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from offline.render.harness import Rendering, render
from offline.render.stackfile import (
    PROJECT_DIR,
    available_stacks,
    project_name,
    read_stack_document,
    to_cli_config,
)

Role = Literal["all-in-one", "platform", "service"]
SERVICE_STACKS_KEY = "serviceStacks"
PLATFORM_KEY = "platform"
SERVICES_KEY = "services"


def role_of(document: Mapping[str, Any], project: str) -> Role:
    """What a stack file declares itself to be."""
    if document.get(f"{project}:{PLATFORM_KEY}") is not None:
        return "service"
    if document.get(f"{project}:{SERVICE_STACKS_KEY}") is True:
        return "platform"
    return "all-in-one"


def platform_stack_of(document: Mapping[str, Any], project: str) -> str | None:
    """The stack a service stack's reference names (its last part), if it is one."""
    reference = document.get(f"{project}:{PLATFORM_KEY}")
    if not isinstance(reference, str) or reference.count("/") != 2:
        return None
    return reference.rsplit("/", 1)[-1]


def services_of(document: Mapping[str, Any], project: str) -> dict[str, Any]:
    services = document.get(f"{project}:{SERVICES_KEY}")
    return dict(services) if isinstance(services, Mapping) else {}


@dataclass(frozen=True, kw_only=True)
class Environment:
    stack: str
    """The all-in-one stack, or the platform stack."""
    role: Role
    service_stacks: Mapping[str, tuple[str, ...]]
    """Service stack -> the services it runs (none for an all-in-one stack)."""


def environment(stack: str, project_dir: Path = PROJECT_DIR) -> Environment:
    """The environment whose all-in-one or platform stack is `stack`; a service stack gives
    its platform's environment."""
    project = project_name(project_dir)
    documents = {
        name: read_stack_document(name, project_dir) for name in available_stacks(project_dir)
    }
    document = documents.get(stack) or read_stack_document(stack, project_dir)
    role = role_of(document, project)
    platform = platform_stack_of(document, project) if role == "service" else None
    if platform is not None and platform in documents:
        return environment(platform, project_dir)
    service_stacks = {
        name: tuple(services_of(other, project))
        for name, other in documents.items()
        if role_of(other, project) == "service" and platform_stack_of(other, project) == stack
    }
    return Environment(
        stack=stack, role=role, service_stacks=service_stacks if role == "platform" else {}
    )


def environment_document(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The all-in-one equivalent of `stack`'s environment: its own stack file if it is
    all-in-one; for a platform, its file without `serviceStacks` and with the `services`
    entries of its service stacks. Rendered under the platform's name, it registers what the
    platform and its service stacks register together."""
    project = project_name(project_dir)
    document = copy.deepcopy(read_stack_document(stack, project_dir))
    if role_of(document, project) != "platform":
        return document
    found = environment(stack, project_dir)
    document.pop(f"{project}:{SERVICE_STACKS_KEY}", None)
    services: dict[str, Any] = {}
    for service_stack in sorted(found.service_stacks):
        entries = services_of(read_stack_document(service_stack, project_dir), project)
        services.update(copy.deepcopy(entries))
    if services:
        document[f"{project}:{SERVICES_KEY}"] = services
    return document


def environment_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The stacks that stand for a whole environment: all-in-one and platform stacks."""
    project = project_name(project_dir)
    return [
        name
        for name in available_stacks(project_dir)
        if role_of(read_stack_document(name, project_dir), project) != "service"
    ]


def render_environment(stack: str, project_dir: Path = PROJECT_DIR) -> Rendering:
    """`stack`'s environment rendered as one all-in-one stack under `stack`'s name (see
    environment_document): for a platform, what it and its service stacks register."""
    document = environment_document(stack, project_dir)
    config = to_cli_config(project_name(project_dir), stack, document)
    return render(stack, config=config, project_dir=project_dir)
