"""What the program reads of its stack, beyond the values: enough to report the mistakes that
would otherwise pass silently (a misspelt namespace, a nested secret, a CIDR that another
stack of the project already uses)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT = "microservices"
# Namespaces a stack file may hold besides the project's: the providers the program uses, and
# Pulumi's own settings (e.g. `pulumi:tags`).
PROVIDER_NAMESPACES = ("aws", "awsx", "pulumi")


@dataclass(frozen=True, kw_only=True)
class OtherStack:
    """Where another stack of the project puts its network, and the services it runs."""

    region: str | None
    cidr_block: str | None
    """None for a stack on an existing VPC, and for a service stack (it has no network)."""
    platform: str | None = None
    """A service stack's platform reference (`org/project/stack`)."""
    services: tuple[str, ...] = ()
    """The services under its `services` key."""


@dataclass(frozen=True, kw_only=True)
class StackInput:
    raw: dict[str, Any]
    """The project's keys, without the namespace, parsed from the CLI's JSON."""
    region: str | None
    secret_keys: frozenset[str] = frozenset()
    """Top-level keys that hold a secret, anywhere inside them."""
    secret_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Top-level key -> the nested paths stored as secrets, where the stack file shows them."""
    foreign_keys: Mapping[str, Any] = field(default_factory=dict)
    """Full keys in a namespace that is neither the project's, a provider's nor Pulumi's,
    with their values (None for a secret, whose value is never shown)."""
    other_stacks: Mapping[str, OtherStack] = field(default_factory=dict)


def secure_paths(value: Any, path: str = "") -> list[str]:
    """The `--path` form of every leaf stored encrypted (`{secure: ...}`) in a config value."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return [path]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += secure_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secure_paths(item, f"{path}[{index}]")
    return found


def _parsed(value: Any) -> Any:
    """A value as the CLI passes it: objects and lists as JSON, anything else as text."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def _stack_files(directory: Path) -> dict[str, dict[str, Any]]:
    """The `config:` maps of the stack files in `directory`, by stack name; unreadable files
    are skipped (the CLI reports them itself)."""
    stacks: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("Pulumi.*.yaml")):
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        config = document.get("config") if isinstance(document, dict) else None
        if isinstance(config, dict):
            stacks[path.name[len("Pulumi.") : -len(".yaml")]] = config
    return stacks


def other_stack(config: Mapping[str, Any], project: str = PROJECT) -> OtherStack:
    network = config.get(f"{project}:network")
    network = network if isinstance(network, dict) else {}
    default_cidr = "10.20.0.0/16"
    platform = config.get(f"{project}:platform")
    services = config.get(f"{project}:services")
    return OtherStack(
        region=config.get("aws:region") if isinstance(config.get("aws:region"), str) else None,
        cidr_block=(
            None
            if network.get("vpcId") or platform is not None
            else str(network.get("cidrBlock", default_cidr))
        ),
        platform=str(platform) if platform is not None else None,
        services=tuple(str(name) for name in services) if isinstance(services, dict) else (),
    )


def read_stack_config(directory: Path | None = None) -> StackInput:
    """The running stack's config as the CLI hands it over, with what its stack file and the
    project's other stack files tell about it.

    Reads every key, so that a misspelt namespace or top-level key is reported rather than
    ignored. The SDK has no public call that lists config keys; its runtime config module
    holds them. The stack files are read from the working directory, where the CLI runs the
    program (the project's directory).
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The config namespace is the project's name (Pulumi.yaml), whatever the copy is called.
    project = pulumi.get_project()
    prefix = f"{project}:"
    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    raw: dict[str, Any] = {}
    secret_keys: set[str] = set()
    foreign: dict[str, Any] = {}
    for full_key in sorted(keys):
        namespace = full_key.split(":", 1)[0]
        if full_key.startswith(prefix):
            key = full_key[len(prefix) :]
            if runtime_config.is_config_secret(full_key):
                secret_keys.add(key)
            raw[key] = _parsed(runtime_config.get_config(full_key))
        elif namespace not in PROVIDER_NAMESPACES:
            secret = runtime_config.is_config_secret(full_key)
            foreign[full_key] = None if secret else _parsed(runtime_config.get_config(full_key))

    stack = pulumi.get_stack()
    stack_files = _stack_files(directory or Path.cwd())
    own = stack_files.pop(stack, {})
    secret_paths = {
        key: tuple(secure_paths(own.get(f"{prefix}{key}"), key)) for key in sorted(secret_keys)
    }
    return StackInput(
        raw=raw,
        region=pulumi.Config("aws").get("region"),
        secret_keys=frozenset(secret_keys),
        secret_paths={key: paths for key, paths in secret_paths.items() if paths},
        foreign_keys=foreign,
        other_stacks={name: other_stack(config, project) for name, config in stack_files.items()},
    )
