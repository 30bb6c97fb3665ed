"""Problems in a stack config, and how they are worded."""

from __future__ import annotations

import difflib
import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ConfigIssue:
    """One problem in a stack config: where, what (with what is allowed), and the fix."""

    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}; fix: {self.fix}"


class ConfigError(Exception):
    """The stack config is invalid. Raised before any resource is registered."""

    def __init__(self, stack: str, issues: Sequence[ConfigIssue]) -> None:
        self.stack = stack
        self.issues = tuple(issues)
        count = len(self.issues)
        header = f"invalid config for stack '{stack}' ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  {issue}" for issue in self.issues)]))


@dataclass(kw_only=True)
class Findings:
    """What the rules find: errors stop the program, warnings are shown and it goes on."""

    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)

    def error(self, path: str, message: str, fix: str) -> None:
        self.errors.append(ConfigIssue(path=path, message=message, fix=fix))

    def warn(self, path: str, message: str, fix: str) -> None:
        self.warnings.append(ConfigIssue(path=path, message=message, fix=fix))


def scalar_text(value: Any) -> Any:
    """Numbers and booleans as the text they stand for; anything else unchanged.

    `pulumi config set --path` stores numbers and booleans typed, so `PORT: 8080` in an
    environment means "8080".
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def show(value: Any) -> str:
    """A config value as the user wrote it: numbers bare, strings and structures as JSON."""
    if isinstance(value, bool | int | float):
        return scalar_text(value)
    return json.dumps(value, sort_keys=True)


def set_command(path: str, value: Any) -> str:
    """The `pulumi config set --path` command that stores `value` at `path` with its type."""
    shown = value if isinstance(value, str) else show(value)
    return f"pulumi config set --path '{path}' {shlex.quote(shown)}"


def rm_command(path: str) -> str:
    return f"pulumi config rm --path '{path}'"


def spec_fix(service: str) -> str:
    return f"edit the spec of '{service}' in services/"


def unknown_key_issue(
    path: str, key: str, allowed: Iterable[str], noun: str = "key"
) -> ConfigIssue:
    choices = sorted(allowed)
    hint = difflib.get_close_matches(key, choices, n=1)
    did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
    return ConfigIssue(
        path=path,
        message=f"unknown {noun} (allowed: {', '.join(choices)}{did_you_mean})",
        fix=rm_command(path),
    )


def list_text(values: Sequence[int]) -> str:
    """Allowed numbers, summarised when they form a long arithmetic run."""
    if len(values) <= 4:
        return ", ".join(map(str, values))
    step = values[1] - values[0]
    return f"{values[0]}..{values[-1]} in steps of {step}"


def range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"
