"""A diff for people: the text `python -m offline diff` prints, and the Markdown a pull
request's comment shows."""

from __future__ import annotations

from offline.change.model import AFTER_DEPLOY, STACK_MARKER, ResourceDiff, _StackNames, show_value
from offline.change.moves import moves_markdown, moves_text
from offline.estimates import cost, rollout
from offline.render.harness import RecordedResource


def _display_name(result: ResourceDiff, resource: RecordedResource, stack: str) -> str:
    return _StackNames(stack, result.across_stacks).name(resource.name)


def _summary(result: ResourceDiff) -> str:
    counts = result.counts
    unsent = result.unsent_counts
    extra = "".join(
        f", {unsent[kind]} with {kind} inputs" for kind in ("not sent", "ignored") if unsent[kind]
    )
    moving = f"{counts['move']} to move, " if "move" in counts else ""
    return (
        f"{counts['add']} to add, {counts['remove']} to remove, {moving}{counts['change']} to "
        f"change, {counts['replace']} to replace, {counts['conflict']} will conflict{extra}"
    )


def _replacement_note(result: ResourceDiff, resource: RecordedResource) -> str:
    replacement = result.replacements.get(resource.urn)
    if replacement is None:
        return ""
    verb = f"replaces {replacement.scope}" if replacement.scope else "replace"
    return f"  ({verb}: {', '.join(replacement.reasons)})"


def _legend(result: ResourceDiff) -> list[str]:
    lines = ["~ updates in place, +- replaces (creates the new one, then deletes the old)."]
    if any(not c.sent for _, changes in result.touched() for c in changes):
        lines.append(
            "= sends AWS nothing: only ignored inputs, or inputs left out that AWS keeps (!)."
        )
    if result.across_stacks:
        lines.append(f"{STACK_MARKER} stands for each side's stack name in names and values.")
    return lines


def _cost_lines(result: ResourceDiff, bullet: str) -> list[str]:
    """The cost change, and by category what moved it; nothing when the cost is unchanged."""
    change = result.cost
    if change is None or (change.error is None and not change.by_category):
        return []
    return [
        cost.change_text(change),
        *(f"{bullet}{line}" for line in cost.change_categories(change)),
        "",
    ]


def format_text(result: ResourceDiff, base_label: str, head_label: str) -> str:
    if result.empty:
        unchanged = f"{base_label} → {head_label}: no changes"
        return "\n".join([unchanged, *_cost_lines(result, "    ")]) + "\n"
    lines = [f"{base_label} → {head_label}: {_summary(result)}", "", *_cost_lines(result, "    ")]
    if result.config:
        lines.append("Stack config:")
        for config in result.config:
            lines.append(f"! {config.key}  ({config.why})")
            for change in config.changes:
                label = f"{change.path}: " if change.path else ""
                lines.append(f"      {label}{show_value(change.old)} → {show_value(change.new)}")
        lines.append("")
    if result.immutable:
        lines.append("Warnings:")
        for warning in result.immutable:
            lines.append(
                f"! {warning.key.path}: {show_value(warning.old)} → {show_value(warning.new)} "
                f"{warning.key.consequence}: {warning.key.reason}"
            )
        lines.append("")
    lines += rollout.change_text(result.rollout)
    lines += moves_text(result.moves)
    for resource in result.added:
        lines.append(f"+ {resource.type}  {_display_name(result, resource, result.head)}")
        lines += [f"      ! {c.message}" for c in result.conflicts_of(resource)]
    for resource in result.removed:
        lines.append(f"- {resource.type}  {_display_name(result, resource, result.base)}")
    for resource, changes in result.touched():
        lines.append(
            f"{result.action(resource, changes)} {resource.type}  "
            f"{_display_name(result, resource, result.head)}{_replacement_note(result, resource)}"
        )
        for change in changes:
            mark = "    ! " if change.kind == "kept" else "      "
            note = f"  ({change.note})" if change.note else ""
            lines.append(
                f"{mark}{change.path}: {show_value(change.old)} → {show_value(change.new)}{note}"
            )
        for later in result.deploy_changes.get(resource.urn, ()):
            lines.append(f"      {later.path}: {show_value(later.value)} → {AFTER_DEPLOY}")
        lines += [f"      ! {c.message}" for c in result.conflicts_of(resource)]
    lines += ["", *_legend(result)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def format_markdown(result: ResourceDiff, base_label: str, head_label: str) -> str:
    title = f"### Offline diff: `{base_label}` → `{head_label}`"
    if result.empty:
        return "\n".join([title, "", "No changes.", *_cost_lines(result, "- ")]) + "\n"
    lines = [title, "", f"**{_summary(result)}**", "", *_cost_lines(result, "- ")]
    if result.config:
        lines += ["#### Stack config", "", "| key | property | before | after |"]
        lines.append("|---|---|---|---|")
        for config in result.config:
            for change in config.changes:
                lines.append(
                    f"| {_cell(config.key)} ({config.why}) | {_cell(change.path or '-')} "
                    f"| {_cell(show_value(change.old))} | {_cell(show_value(change.new))} |"
                )
        lines.append("")
    if result.immutable:
        lines += ["#### Warnings", ""]
        for warning in result.immutable:
            lines.append(
                f"- ⚠️ {_cell(warning.key.path)}: {_cell(show_value(warning.old))} → "
                f"{_cell(show_value(warning.new))} {warning.key.consequence}: "
                f"{warning.key.reason}"
            )
        lines.append("")
    lines += rollout.change_markdown(result.rollout)
    lines += moves_markdown(result.moves)
    if result.conflicts:
        lines += ["#### Will conflict", "", "| resource | conflict | source |", "|---|---|---|"]
        for conflict in result.conflicts:
            label = f"{conflict.resource.type} {conflict.resource.name}"
            message, source = (t.replace("|", "\\|") for t in (conflict.message, conflict.source))
            lines.append(f"| {_cell(label)} | ⚠️ {message} | {source} |")
        lines.append("")
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
    touched = result.touched()
    if touched:
        lines += [
            "#### Changed",
            "",
            "| | resource | property | before | after |",
            "|---|---|---|---|---|",
        ]
        for resource, changes in touched:
            action = _cell(result.action(resource, changes))
            label = f"{resource.type} {_display_name(result, resource, result.head)}"
            replacement = result.replacements.get(resource.urn)
            forcing = set(replacement.forced_by) if replacement else set()
            rows = [
                (
                    change.path,
                    show_value(change.old),
                    show_value(change.new) + (f" ({change.note})" if change.note else ""),
                )
                for change in changes
            ] + [
                (later.path, show_value(later.value), AFTER_DEPLOY)
                for later in result.deploy_changes.get(resource.urn, ())
            ]
            for path, old, new in rows:
                marker = " (replaces)" if path in forcing else ""
                lines.append(
                    f"| {action} | {_cell(label)} | {_cell(path)}{marker} | {_cell(old)} "
                    f"| {_cell(new)} |"
                )
            if replacement and replacement.because:
                lines.append(
                    f"| {action} | {_cell(label)} | replaced because | "
                    f"{_cell(', '.join(replacement.reasons))} | |"
                )
        lines.append("")
    lines += [" ".join(_legend(result))]
    return "\n".join(lines) + "\n"
