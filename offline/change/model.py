"""What a diff is made of: changed properties, replacements, conflicts, config changes, and
the result (`ResourceDiff`) that offline.change.diff builds and offline.change.present shows;
with the helpers every part of the diff uses (documents inside inputs, references, values)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.immutable import ImmutableKey
from offline.change.moves import Move
from offline.estimates import cost, rollout
from offline.render.harness import RecordedResource

STACK_MARKER = "<stack>"
AFTER_DEPLOY = "(known after deploy)"
_MISSING = object()

# Provider settings that reach every resource of the stack.
GLOBAL_CONFIG: Mapping[str, str] = {
    "aws:defaultTags": "retags every resource",
    "aws:region": "moves every resource to another region",
}


@dataclass(frozen=True, kw_only=True)
class PropertyChange:
    path: str
    """Nested property path, e.g. `healthCheck.interval` or `containerDefinitions[0].image`."""
    old: Any
    new: Any
    kind: str = "update"
    """`update`: AWS gets the new value. `ignored`: under ignoreChanges, Pulumi keeps the
    deployed value. `kept`: left out, and the provider sends nothing for it, so AWS keeps the
    old value (offline/change/sticky.py)."""
    note: str = ""

    @property
    def sent(self) -> bool:
        return self.kind == "update"


@dataclass(frozen=True, kw_only=True)
class DeployChange:
    """An input that reads a resource being replaced: its value is new, known after deploy."""

    path: str
    value: Any
    """The input as recorded, with its `${name.attribute}` references."""
    reads: tuple[str, ...]
    """Logical names of the replaced resources it reads."""


@dataclass(frozen=True, kw_only=True)
class Replacement:
    forced_by: tuple[str, ...] = ()
    """Changed input paths that force the replacement."""
    because: tuple[str, ...] = ()
    """Replaced resources whose new values reach an input that forces the replacement."""
    scope: str = ""
    """What is replaced when not the resource itself (`its subnets` for an awsx VPC)."""
    outputs: tuple[str, ...] | None = None
    """Attributes with new values (prefixes, `privateSubnetIds` covers `privateSubnetIds[0]`);
    None: all of them."""

    @property
    def reasons(self) -> tuple[str, ...]:
        return (*self.forced_by, *(f"{name} is replaced" for name in self.because))

    def renews(self, attribute: str) -> bool:
        if self.outputs is None:
            return True
        return any(attribute == o or attribute.startswith(o + "[") for o in self.outputs)


@dataclass(frozen=True, kw_only=True)
class Conflict:
    resource: RecordedResource
    """The resource whose creation conflicts (the replacement, or the added resource)."""
    holder: str
    """What holds the unique thing meanwhile (`the original`, or the removed resource)."""
    what: str
    value: str
    source: str

    @property
    def message(self) -> str:
        return (
            f"will conflict: {self.what} {self.value} is held by {self.holder} until it is "
            "deleted, and Pulumi creates before it deletes"
        )


@dataclass(frozen=True, kw_only=True)
class ConfigChange:
    key: str
    why: str
    changes: tuple[PropertyChange, ...]


@dataclass(frozen=True, kw_only=True)
class ImmutableChange:
    key: ImmutableKey
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class ResourceDiff:
    base: str
    head: str
    added: tuple[RecordedResource, ...]
    removed: tuple[RecordedResource, ...]
    changed: tuple[tuple[RecordedResource, tuple[PropertyChange, ...]], ...]
    """Resources whose own inputs or options differ (head side), with what differs."""
    deploy_changes: Mapping[str, tuple[DeployChange, ...]] = field(default_factory=dict)
    """By URN (head): inputs that change at deploy because they read a replaced resource."""
    replacements: Mapping[str, Replacement] = field(default_factory=dict)
    """By URN (head): the resources that are replaced, and why."""
    conflicts: tuple[Conflict, ...] = ()
    config: tuple[ConfigChange, ...] = ()
    immutable: tuple[ImmutableChange, ...] = ()
    across_stacks: bool = False
    head_resources: Mapping[str, RecordedResource] = field(default_factory=dict)
    """The head's resources by URN."""
    cost: cost.CostChange | None = None
    rollout: tuple[rollout.RolloutChange, ...] = ()
    """Estimated release and rollback times that change (`offline.estimates.rollout`)."""
    """The estimated monthly cost of each side (`offline.estimates.cost`)."""
    moves: tuple[Move, ...] = ()
    """Resources that move to a service stack, not removed (`offline.change.moves`)."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.config or self.moves)

    def touched(self) -> list[tuple[RecordedResource, tuple[PropertyChange, ...]]]:
        """Changed resources and those changed only at deploy, in the order of `changed`."""
        direct = {r.urn for r, _ in self.changed}
        extra: list[tuple[RecordedResource, tuple[PropertyChange, ...]]] = [
            (self.head_resources[urn], ())
            for urn in self.deploy_changes
            if urn not in direct and urn in self.head_resources
        ]
        return sorted([*self.changed, *extra], key=lambda item: (item[0].type, item[0].name))

    def action(self, resource: RecordedResource, changes: Iterable[PropertyChange] = ()) -> str:
        if resource.urn in self.replacements:
            return "+-"
        changes = tuple(changes)
        return "=" if changes and self.sends_nothing(resource, changes) else "~"

    def conflicts_of(self, resource: RecordedResource) -> list[Conflict]:
        return [c for c in self.conflicts if c.resource.urn == resource.urn]

    def sends_nothing(self, resource: RecordedResource, changes: Iterable[PropertyChange]) -> bool:
        """Only ignored or left-out inputs differ: `pulumi up` sends AWS nothing for it."""
        return (
            resource.urn not in self.replacements
            and resource.urn not in self.deploy_changes
            and all(not c.sent for c in changes)
        )

    @property
    def counts(self) -> dict[str, int]:
        touched = self.touched()
        replaced = sum(1 for r, _ in touched if r.urn in self.replacements)
        unsent = sum(1 for r, c in touched if self.sends_nothing(r, c))
        return {
            "add": len(self.added),
            "remove": len(self.removed),
            "change": len(touched) - replaced - unsent,
            "replace": replaced,
            "conflict": len(self.conflicts),
            # Only toward a platform stack (offline.change.moves).
            **({"move": sum(len(m.resources) for m in self.moves)} if self.moves else {}),
        }

    @property
    def unsent_counts(self) -> dict[str, int]:
        """Resources with inputs AWS will not get: left out and kept, or ignored."""
        touched = self.touched()
        return {
            "not sent": sum(1 for _, c in touched if any(x.kind == "kept" for x in c)),
            "ignored": sum(1 for _, c in touched if any(x.kind == "ignored" for x in c)),
        }


class _StackNames:
    """Rewrites a stack's name, as a whole token in any text, to `<stack>`."""

    def __init__(self, stack: str, active: bool) -> None:
        self.active = active
        # Letters and digits on either side make another word (`production`, `devops`).
        self._token = re.compile(r"(?<![A-Za-z0-9])" + re.escape(stack) + r"(?![A-Za-z0-9])")

    def name(self, name: str) -> str:
        return self._token.sub(STACK_MARKER, name) if self.active else name

    def value(self, value: Any) -> Any:
        if not self.active:
            return value
        if isinstance(value, str):
            return self._token.sub(STACK_MARKER, value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def _json_document(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return _MISSING
    return _MISSING


def property_changes(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
    old_document, new_document = _json_document(old), _json_document(new)
    if old_document is not _MISSING and new_document is not _MISSING:
        return property_changes(old_document, new_document, path)
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[PropertyChange] = []
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            changes += property_changes(old.get(key, _MISSING), new.get(key, _MISSING), child)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes += property_changes(a, b, f"{path}[{index}]")
        return changes
    if old == new:
        return []
    return [
        PropertyChange(
            path=path, old=None if old is _MISSING else old, new=None if new is _MISSING else new
        )
    ]


def _options(resource: RecordedResource) -> dict[str, Any]:
    return {
        "ignoreChanges": list(resource.ignore_changes),
        "deleteBeforeReplace": resource.delete_before_replace,
        "protect": resource.protect,
        "customTimeouts": dict(resource.custom_timeouts),
    }


# --- references to other resources ----------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in an input with its path (`networkConfiguration.subnets[0]`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")


def _references(text: str, names: set[str]) -> list[tuple[str, str]]:
    """(resource name, attribute) of each `${name.attribute}` in a text.

    Logical names may hold dots (`...-allow-443-0.0.0.0-0`), attributes do not: the split is
    at the last dot whose left side names a resource.
    """
    found = []
    for body in _REFERENCE.findall(text):
        for index in range(len(body) - 1, 0, -1):
            if body[index] == "." and body[:index] in names:
                found.append((body[:index], body[index + 1 :]))
                break
    return found


def show_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
