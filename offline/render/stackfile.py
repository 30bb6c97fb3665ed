"""Stack files as the Pulumi CLI hands them to the program, without the CLI.

The CLI passes each config key as `namespace:key` with a string value (objects and lists as
JSON). Values stored encrypted (`secure:`) cannot be decrypted offline; they are passed as
`[secret]` and marked secret, so nothing downstream ever prints the ciphertext.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_PLACEHOLDER = "[secret]"


class StackFileError(Exception):
    """A stack that does not exist or a stack file that cannot be read."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    project: str
    stack: str
    config: dict[str, str]
    """`namespace:key` -> the value as the CLI passes it."""
    secret_keys: tuple[str, ...]


def find_project_dir(start: Path) -> Path:
    """The nearest directory at or above `start` with a Pulumi.yaml, as the Pulumi CLI looks."""
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise StackFileError(f"no Pulumi.yaml in {start} or any parent directory")


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return str(document["name"])


def available_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(
        path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml")
    )


def read_stack_document(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `config:` map of `Pulumi.<stack>.yaml` as YAML data."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = ", ".join(available_stacks(project_dir)) or "none"
        raise StackFileError(f"no stack '{stack}': {path.name} does not exist (stacks: {stacks})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {error}") from None
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: 'config' is not a map")
    return config


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _mask_secrets(value: Any) -> tuple[Any, bool]:
    """Replace every `secure:` leaf by the placeholder; report whether there was one."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        found = False
        masked = {}
        for key, item in value.items():
            masked[key], secret = _mask_secrets(item)
            found = found or secret
        return masked, found
    if isinstance(value, list):
        items = [_mask_secrets(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def _cli_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list) or value is None:
        return json.dumps(value)
    return str(value)


def to_cli_config(project: str, stack: str, document: Mapping[str, Any]) -> StackConfig:
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in document.items():
        full_key = key if ":" in key else f"{project}:{key}"
        masked, secret = _mask_secrets(value)
        config[full_key] = _cli_value(masked)
        if secret:
            secret_keys.append(full_key)
    return StackConfig(
        project=project, stack=stack, config=config, secret_keys=tuple(sorted(secret_keys))
    )


def load_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> StackConfig:
    project = project_name(project_dir)
    return to_cli_config(project, stack, read_stack_document(stack, project_dir))


# --- `pulumi config set --path` ------------------------------------------------------------

_PATH_PART = re.compile(r'\.?([^.\[\]]+)|\[(\d+)\]|\["([^"]+)"\]')


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"], as the CLI's `--path` reads it."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot parse config path {path!r} at {position}")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (quoted if quoted is not None else name))
        position = match.end()
    return parts


def cli_typed_value(text: str) -> Any:
    """With `--path`, the CLI stores `true`/`false` as booleans and integers as numbers."""
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _config_key(path: str, project: str) -> tuple[str, list[str | int]]:
    """The namespaced top-level key a `--path` names, and its parsed parts."""
    parts = parse_path(path)
    first = parts[0]
    if not isinstance(first, str):
        raise ValueError(f"config path {path!r} must start with a key")
    return (first if ":" in first else f"{project}:{first}"), parts


def _extend_to(items: list[Any], index: int, path: str) -> None:
    """Make `items[index]` settable: an index may name an item or the end of the list."""
    if index > len(items):
        raise ValueError(f"{path}: index {index} is past the end of a list of {len(items)}")
    if index == len(items):
        items.append(None)


def config_set_path(
    document: Mapping[str, Any], path: str, value: str, project: str = "microservices"
) -> dict[str, Any]:
    """A copy of a stack's `config:` map after `pulumi config set --path <path> <value>`."""
    key, parts = _config_key(path, project)
    result = copy.deepcopy(dict(document))
    if len(parts) == 1:
        result[key] = cli_typed_value(value)
        return result
    container: Any = result.setdefault(key, {} if isinstance(parts[1], str) else [])
    for part, following in itertools.pairwise(parts[1:]):
        empty: Any = {} if isinstance(following, str) else []
        if isinstance(part, int):
            _extend_to(container, part, path)
            if container[part] is None:
                container[part] = empty
            container = container[part]
        else:
            container = container.setdefault(part, empty)
    last = parts[-1]
    if isinstance(last, int):
        _extend_to(container, last, path)
    container[last] = cli_typed_value(value)
    return result


def config_rm_path(
    document: Mapping[str, Any], path: str, project: str = "microservices"
) -> dict[str, Any]:
    """A copy of a stack's `config:` map after `pulumi config rm --path <path>`."""
    key, parts = _config_key(path, project)
    result = copy.deepcopy(dict(document))
    if len(parts) == 1:
        result.pop(key, None)
        return result
    container: Any = result.get(key)
    for part in parts[1:-1]:
        if container is None:
            return result
        container = container[part] if isinstance(part, int) else container.get(part)
    if isinstance(container, dict):
        container.pop(parts[-1], None)
    elif isinstance(container, list) and isinstance(parts[-1], int) and parts[-1] < len(container):
        del container[parts[-1]]
    return result
