"""A copy of the project whose environment is split into a platform stack and one service
stack per catalog service, from a committed all-in-one stack file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline.render.environments import environment_document
from offline.render.stackfile import PROJECT_DIR, project_name
from services import CATALOG

ORG = "acme"
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "venv", "__pycache__", ".pytest_cache", ".ruff_cache"
)


@dataclass(frozen=True, kw_only=True)
class SplitProject:
    directory: Path
    platform: str
    """The platform stack: named like the all-in-one stack it replaces."""
    service_stacks: dict[str, str]
    """Service name -> its service stack."""

    @property
    def reference(self) -> str:
        return f"{ORG}/{project_name(self.directory)}/{self.platform}"


def copy_project(destination: Path) -> Path:
    shutil.copytree(PROJECT_DIR, destination, ignore=IGNORED)
    return destination


def service_stack_name(environment: str, service: str) -> str:
    return f"{environment}-{service}"


def write_stack(directory: Path, stack: str, config: dict[str, Any]) -> None:
    (directory / f"Pulumi.{stack}.yaml").write_text(
        yaml.safe_dump({"config": config}, sort_keys=False)
    )


def split(destination: Path, environment: str = "prod") -> SplitProject:
    """Copy the project and split `environment`: its stack file becomes the platform
    (`serviceStacks: true`, no `services`), and each catalog service gets a stack file with
    the platform reference, the provider settings and its own `services` entry."""
    directory = copy_project(destination)
    project = project_name(directory)
    # The environment as one stack, whether the committed one is all-in-one or split.
    document = environment_document(environment)
    services = document.pop(f"{project}:services", None) or {}
    providers = {k: v for k, v in document.items() if k.startswith("aws:")}
    write_stack(directory, environment, {**document, f"{project}:serviceStacks": True})
    reference = f"{ORG}/{project}/{environment}"
    stacks = {}
    for name in CATALOG:
        stack = service_stack_name(environment, name)
        stacks[name] = stack
        write_stack(
            directory,
            stack,
            {
                **providers,
                f"{project}:platform": reference,
                f"{project}:services": {name: services.get(name) or {}},
            },
        )
    return SplitProject(directory=directory, platform=environment, service_stacks=stacks)
