"""Resource-by-resource, property-by-property differences between two renderings.

Resources are matched by type and logical name. When the two sides are different stacks,
the stack's name at the start of logical names, and in the `${name.attribute}` references
that point at them, reads as `<stack>`, so that `dev` and `prod` line up resource by
resource. Everything else is compared as it is. Inputs that hold a JSON document (container
definitions, IAM policies) are compared inside the document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from offline.harness import RecordedResource, Rendering

STACK_MARKER = "<stack>"
_MISSING = object()


@dataclass(frozen=True, kw_only=True)
class PropertyChange:
    path: str
    """Nested property path, e.g. `healthCheck.interval` or `containerDefinitions[0].image`."""
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class ResourceDiff:
    base: str
    head: str
    added: tuple[RecordedResource, ...]
    removed: tuple[RecordedResource, ...]
    changed: tuple[tuple[RecordedResource, tuple[PropertyChange, ...]], ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


class _StackNames:
    """Rewrites a stack's name prefix in logical names and references to `<stack>`."""

    def __init__(self, stack: str, active: bool) -> None:
        self.stack = stack
        self.active = active
        self._reference = re.compile(r"\$\{" + re.escape(stack) + r"(?=[-.}])")

    def name(self, name: str) -> str:
        if self.active and (name == self.stack or name.startswith(f"{self.stack}-")):
            return STACK_MARKER + name[len(self.stack) :]
        return name

    def value(self, value: Any) -> Any:
        if not self.active:
            return value
        if isinstance(value, str):
            return self._reference.sub("${" + STACK_MARKER, value)
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
    }


def diff(base: Rendering, head: Rendering) -> ResourceDiff:
    """What changes from `base` to `head`: inputs, and the resource options that matter."""
    across_stacks = base.stack != head.stack
    names = {
        id(base): _StackNames(base.stack, across_stacks),
        id(head): _StackNames(head.stack, across_stacks),
    }

    def keyed(rendering: Rendering) -> dict[tuple[str, str], RecordedResource]:
        stack_names = names[id(rendering)]
        return {(r.type, stack_names.name(r.name)): r for r in rendering.resources}

    def compared(rendering: Rendering, resource: RecordedResource) -> dict[str, Any]:
        stack_names = names[id(rendering)]
        return {
            **stack_names.value(resource.inputs),
            "(options)": _options(resource),
        }

    before, after = keyed(base), keyed(head)
    changed = []
    for key in sorted(set(before) & set(after)):
        changes = property_changes(compared(base, before[key]), compared(head, after[key]))
        if changes:
            changed.append((after[key], tuple(changes)))
    return ResourceDiff(
        base=base.stack,
        head=head.stack,
        added=tuple(sorted((after[k] for k in set(after) - set(before)), key=lambda r: r.urn)),
        removed=tuple(sorted((before[k] for k in set(before) - set(after)), key=lambda r: r.urn)),
        changed=tuple(changed),
    )


# --- presentation ----------------------------------------------------------------------------


def show_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _display_name(result: ResourceDiff, resource: RecordedResource, stack: str) -> str:
    if result.base != result.head:
        return _StackNames(stack, True).name(resource.name)
    return resource.name


def _summary(result: ResourceDiff) -> str:
    return (
        f"{len(result.added)} to add, {len(result.removed)} to remove, "
        f"{len(result.changed)} to change"
    )


def format_text(result: ResourceDiff, base_label: str, head_label: str) -> str:
    if result.empty:
        return f"{base_label} → {head_label}: no changes\n"
    lines = [f"{base_label} → {head_label}: {_summary(result)}", ""]
    for resource in result.added:
        lines.append(f"+ {resource.type}  {_display_name(result, resource, result.head)}")
    for resource in result.removed:
        lines.append(f"- {resource.type}  {_display_name(result, resource, result.base)}")
    for resource, changes in result.changed:
        lines.append(f"~ {resource.type}  {_display_name(result, resource, result.head)}")
        for change in changes:
            lines.append(
                f"      {change.path}: {show_value(change.old)} → {show_value(change.new)}"
            )
    if result.base != result.head:
        lines += ["", f"{STACK_MARKER} stands for the stack's name at the start of names."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def format_markdown(result: ResourceDiff, base_label: str, head_label: str) -> str:
    title = f"### Offline diff: `{base_label}` → `{head_label}`"
    if result.empty:
        return f"{title}\n\nNo changes.\n"
    lines = [title, "", f"**{_summary(result)}**", ""]
    for heading, resources, stack in (
        ("Added", result.added, result.head),
        ("Removed", result.removed, result.base),
    ):
        if resources:
            lines += [f"#### {heading}", "", "| type | name |", "|---|---|"]
            lines += [
                f"| {_cell(r.type)} | {_cell(_display_name(result, r, stack))} |" for r in resources
            ]
            lines.append("")
    if result.changed:
        lines += [
            "#### Changed",
            "",
            "| resource | property | before | after |",
            "|---|---|---|---|",
        ]
        for resource, changes in result.changed:
            label = f"{resource.type} {_display_name(result, resource, result.head)}"
            for change in changes:
                lines.append(
                    f"| {_cell(label)} | {_cell(change.path)} | {_cell(show_value(change.old))} "
                    f"| {_cell(show_value(change.new))} |"
                )
        lines.append("")
    if result.base != result.head:
        lines.append(f"`{STACK_MARKER}` stands for the stack's name at the start of names.")
    return "\n".join(lines) + "\n"
