"""Resource-by-resource, property-by-property differences between two renderings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offline.harness import RecordedResource, Rendering

_MISSING = object()


@dataclass(frozen=True, kw_only=True)
class PropertyChange:
    path: str
    """Nested property path, e.g. `healthCheck.interval` or `conditions[0].pathPattern`."""
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class ResourceDiff:
    added: tuple[RecordedResource, ...]
    removed: tuple[RecordedResource, ...]
    changed: tuple[tuple[RecordedResource, tuple[PropertyChange, ...]], ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _key(resource: RecordedResource) -> tuple[str, str]:
    return resource.type, resource.name


def property_changes(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
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
            path=path,
            old=None if old is _MISSING else old,
            new=None if new is _MISSING else new,
        )
    ]


def diff(base: Rendering, head: Rendering) -> ResourceDiff:
    """What changes from `base` to `head`, resources matched by type and name."""
    before = {_key(r): r for r in base.resources}
    after = {_key(r): r for r in head.resources}
    changed = []
    for key in sorted(set(before) & set(after)):
        changes = property_changes(before[key].inputs, after[key].inputs)
        if changes:
            changed.append((after[key], tuple(changes)))
    return ResourceDiff(
        added=tuple(after[k] for k in sorted(set(after) - set(before))),
        removed=tuple(before[k] for k in sorted(set(before) - set(after))),
        changed=tuple(changed),
    )
