"""Resource-by-resource, property-by-property differences between two renderings.

Resources are matched by type and logical name. Inputs that hold a JSON document (container
definitions, IAM policies) are compared inside the document.

Each changed resource is either updated in place (`~`) or replaced (`+-`), as the provider
decides from the inputs that changed (`offline.replacements`). When the two sides are the same
stack (a change over time, what `pulumi up` would do), the diff also follows replacements
through the resources that read them, flags changes that will conflict in AWS, and warns of
config keys that must never change after the first deploy (`config.immutable`).

When the two sides are different stacks, the stack's name inside names and values (as a whole
token, so `production` stays) reads as `<stack>` on both sides, so that `dev` and `prod` line
up and only real differences show. Replacements are then marked, but not followed: the two
stacks are not one deployment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from config.immutable import IMMUTABLE_KEYS, ImmutableKey
from offline import cost, replacements, rollout, sticky
from offline.harness import UNKNOWN, RecordedResource, Rendering
from offline.moves import Move, moves_markdown, moves_text
from offline.replacements import Identity

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
    old value (offline/sticky.py)."""
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
    """Estimated release and rollback times that change (`offline.rollout`)."""
    """The estimated monthly cost of each side (`offline.cost`)."""
    moves: tuple[Move, ...] = ()
    """Resources that move to a service stack, not removed (`offline.moves`)."""

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
            # Only toward a platform stack (offline.moves).
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


# --- the diff --------------------------------------------------------------------------------


def diff(base: Rendering, head: Rendering) -> ResourceDiff:
    """What changes from `base` to `head`: inputs, the resource options that matter, how each
    changed resource is deployed, and the provider config that reaches every resource."""
    across_stacks = base.stack != head.stack
    base_names = _StackNames(base.stack, across_stacks)
    head_names = _StackNames(head.stack, across_stacks)

    def keyed(rendering: Rendering, names: _StackNames) -> dict[tuple[str, str], RecordedResource]:
        return {(r.type, names.name(r.name)): r for r in rendering.resources}

    before, after = keyed(base, base_names), keyed(head, head_names)
    common = sorted(set(before) & set(after))
    old_inputs = {key: base_names.value(before[key].inputs) for key in common}
    new_inputs = {key: head_names.value(after[key].inputs) for key in common}

    changed = []
    for key in common:
        changes = property_changes(
            {**old_inputs[key], "(options)": _options(before[key])},
            {**new_inputs[key], "(options)": _options(after[key])},
        )
        if changes:
            # What AWS will see is a question for one stack over time, not for two stacks.
            if not across_stacks:
                changes = list(classify(after[key], changes, new_inputs[key]))
            changed.append((after[key], tuple(changes)))

    replaced: dict[str, Replacement] = {}
    by_urn_key = {after[key].urn: key for key in common}
    for resource, changes in changed:
        key = by_urn_key[resource.urn]
        sent = [c for c in changes if c.sent]
        found = _direct_replacement(resource, sent, old_inputs[key], new_inputs[key])
        if found is not None:
            replaced[resource.urn] = found

    deploy: dict[str, tuple[DeployChange, ...]] = {}
    conflicts: list[Conflict] = []
    immutable: list[ImmutableChange] = []
    if not across_stacks:
        # Only a change of one stack is a deployment: follow it and check what it will meet.
        shown = {r.urn: {c.path for c in changes} for r, changes in changed}
        deploy = _follow_replacements(head, [after[key] for key in common], replaced, shown)
        conflicts = _conflicts(
            head,
            [(before[key], after[key]) for key in common],
            removed=[before[k] for k in set(before) - set(after)],
            added=[after[k] for k in set(after) - set(before)],
            replaced=replaced,
            deploy=deploy,
        )
        immutable = immutable_changes(base, head)
    return ResourceDiff(
        base=base.stack,
        head=head.stack,
        added=tuple(sorted((after[k] for k in set(after) - set(before)), key=lambda r: r.urn)),
        removed=tuple(sorted((before[k] for k in set(before) - set(after)), key=lambda r: r.urn)),
        changed=tuple(changed),
        deploy_changes=deploy,
        replacements=replaced,
        conflicts=tuple(conflicts),
        config=tuple(config_changes(base, head, base_names, head_names)),
        immutable=tuple(immutable),
        across_stacks=across_stacks,
        head_resources={r.urn: r for r in head.resources},
        cost=cost.compare(base, head),
        rollout=rollout.compare(base, head),
    )


def classify(
    resource: RecordedResource, changes: Iterable[PropertyChange], new_inputs: Mapping[str, Any]
) -> tuple[PropertyChange, ...]:
    """Each change as AWS sees it: sent, ignored (Pulumi keeps the deployed value), or not
    sent because the input is left out and the provider keeps what AWS has."""
    found = []
    for change in changes:
        if change.path.startswith("(options)"):
            found.append(change)
        elif any(replacements.under(change.path, i) for i in resource.ignore_changes):
            found.append(
                replace(change, kind="ignored", note="ignored: Pulumi keeps the deployed value")
            )
        elif change.new is None and (
            entry := sticky.kept_when_left_out(resource.type, change.path, new_inputs)
        ):
            unread = "" if entry.used(new_inputs) else ", which nothing reads any more"
            found.append(
                replace(
                    change,
                    kind="kept",
                    note=f"not sent: AWS keeps {show_value(change.old)}{unread} ({entry.why}; "
                    "send the value to change it)",
                )
            )
        else:
            found.append(change)
    return tuple(found)


def _direct_replacement(
    resource: RecordedResource,
    changes: Iterable[PropertyChange],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Replacement | None:
    rule = replacements.rule_for(resource.type)
    if rule is None:
        return None
    paths = [c.path for c in changes if not c.path.startswith("(options)")]
    forced = replacements.forcing_paths(
        rule, paths, old=old, new=new, ignored=resource.ignore_changes
    )
    if forced:
        return Replacement(forced_by=forced)
    layout = replacements.subnet_layout_paths(rule, paths)
    if not layout:
        return None
    plan = replacements.subnet_plan(old, new)
    if plan.replaced_outputs is None:
        return Replacement(
            forced_by=layout, scope="its subnets", outputs=("publicSubnetIds", "privateSubnetIds")
        )
    if plan.replaced_outputs:
        return Replacement(
            forced_by=layout, scope="its subnets", outputs=tuple(sorted(plan.replaced_outputs))
        )
    return None  # only new subnets: the existing ones stay


def _follow_replacements(
    head: Rendering,
    kept: list[RecordedResource],
    replaced: dict[str, Replacement],
    shown: Mapping[str, set[str]],
) -> dict[str, tuple[DeployChange, ...]]:
    """Inputs of kept resources that read a replaced resource, as `pulumi preview` shows them
    (new values, known after deploy); a resource whose such input forces replacement is
    replaced in turn. Updates `replaced` and returns the inputs by URN, but for those `shown`
    as changed already (URN -> paths)."""
    by_name: dict[str, list[RecordedResource]] = {}
    for resource in head.resources:
        by_name.setdefault(resource.name, []).append(resource)
    names = set(by_name)

    def renewed(name: str, attribute: str) -> bool:
        return any(
            r.urn in replaced and replaced[r.urn].renews(attribute) for r in by_name.get(name, [])
        )

    deploy: dict[str, tuple[DeployChange, ...]] = {}
    growing = True
    while growing:  # replacements spread along references until nothing new is replaced
        growing = False
        for resource in kept:
            reads = []
            for path, text in _leaves(resource.inputs):
                if any(replacements.under(path, i) for i in resource.ignore_changes):
                    continue  # Pulumi keeps the old value of an ignored input
                if any(replacements.under(path, c) for c in shown.get(resource.urn, ())):
                    continue  # its new value is shown, and it forced what it forces already
                sources = sorted({n for n, a in _references(text, names) if renewed(n, a)})
                if sources:
                    reads.append(DeployChange(path=path, value=text, reads=tuple(sources)))
            if not reads:
                continue
            deploy[resource.urn] = tuple(reads)
            rule = replacements.rule_for(resource.type)
            if rule is None:
                continue
            forcing = replacements.forcing_paths(
                rule, [r.path for r in reads], old=resource.inputs, new=resource.inputs
            )
            because = tuple(
                sorted({n for r in reads if r.path in forcing for n in r.reads} - {resource.name})
            )
            if not because:
                continue
            current = replaced.get(resource.urn)
            if current is None:
                replaced[resource.urn] = Replacement(because=because)
                growing = True
            elif current.scope or not set(because) <= set(current.because):
                merged = tuple(sorted({*current.because, *because}))
                replaced[resource.urn] = replace(current, because=merged, scope="", outputs=None)
                growing = True
    return deploy


def _identity_value(inputs: Mapping[str, Any], identity: Identity) -> tuple[Any, ...] | None:
    values = tuple(replacements.lookup(inputs, path) for path in identity.paths)
    if any(v is None or v == UNKNOWN for v in values):
        return None  # not set (a generated name), or not known before deploy
    return values


def _show_identity(values: tuple[Any, ...]) -> str:
    return ", ".join(show_value(v) for v in values)


def _conflicts(
    head: Rendering,
    pairs: list[tuple[RecordedResource, RecordedResource]],
    *,
    removed: list[RecordedResource],
    added: list[RecordedResource],
    replaced: Mapping[str, Replacement],
    deploy: Mapping[str, tuple[DeployChange, ...]],
) -> list[Conflict]:
    """What AWS will refuse (or worse, let one resource take over from another) because
    Pulumi creates new resources before it deletes old ones."""
    found: list[Conflict] = []
    renewals = {r.name: replaced[r.urn] for r in head.resources if r.urn in replaced}

    def stays(inputs: Mapping[str, Any], identity: Identity, urn: str | None) -> bool:
        """The identity keeps its value through the deploy (reads nothing replaced)."""
        changing = {d.path for d in deploy.get(urn or "", ())}
        for path in identity.paths:
            if any(replacements.under(c, path) for c in changing):
                return False
            for _, text in _leaves(replacements.lookup(inputs, path)):
                for name, attribute in _references(text, set(renewals)):
                    if renewals[name].renews(attribute):
                        return False
        return True

    for old, new in pairs:
        replacement = replaced.get(new.urn)
        if replacement is None:
            continue
        rule = replacements.rule_for(new.type)
        if rule is None:
            continue
        if replacement.scope == "its subnets":
            plan = replacements.subnet_plan(old.inputs, new.inputs)
            found += [
                Conflict(
                    resource=new,
                    holder="an old subnet",
                    what="the subnet block",
                    value=f"{created} (overlapping {existing})",
                    source=replacements.SUBNET_OVERLAP,
                )
                for created, existing in plan.overlaps
            ]
            continue
        if new.delete_before_replace:
            continue
        for identity in rule.identities:
            before, after = (
                _identity_value(old.inputs, identity),
                _identity_value(new.inputs, identity),
            )
            if before is None or before != after or not stays(new.inputs, identity, new.urn):
                continue
            found.append(
                Conflict(
                    resource=new,
                    holder="the original",
                    what=identity.what,
                    value=_show_identity(after),
                    source=identity.source,
                )
            )

    for gone in removed:
        rule = replacements.rule_for(gone.type)
        if rule is None:
            continue
        for identity in rule.identities:
            held = _identity_value(gone.inputs, identity)
            if held is None:
                continue
            for new in added:
                if new.type != gone.type or _identity_value(new.inputs, identity) != held:
                    continue
                if not stays(new.inputs, identity, None):
                    continue
                found.append(
                    Conflict(
                        resource=new,
                        holder=gone.name,
                        what=identity.what,
                        value=_show_identity(held),
                        source=identity.source,
                    )
                )
    return sorted(found, key=lambda c: (c.resource.type, c.resource.name, c.what))


# --- config that reaches every resource ------------------------------------------------------


def _config_value(rendering: Rendering, key: str) -> Any:
    raw = rendering.config.get(key, _MISSING)
    if raw is _MISSING:
        return None
    parsed = _json_document(raw)
    return raw if parsed is _MISSING else parsed


def config_changes(
    base: Rendering,
    head: Rendering,
    base_names: _StackNames | None = None,
    head_names: _StackNames | None = None,
) -> list[ConfigChange]:
    """Changes of provider settings that reach every resource (`aws:defaultTags`)."""
    base_names = base_names or _StackNames(base.stack, False)
    head_names = head_names or _StackNames(head.stack, False)
    found = []
    for key, why in GLOBAL_CONFIG.items():
        old = base_names.value(_config_value(base, key))
        new = head_names.value(_config_value(head, key))
        changes = property_changes(old, new)
        if changes:
            found.append(ConfigChange(key=key, why=why, changes=tuple(changes)))
    return found


def _effective(rendering: Rendering, key: ImmutableKey) -> Any:
    block, name = key.path.split(".", 1)
    value = _config_value(rendering, f"{rendering.project}:{block}")
    if isinstance(value, dict) and value.get(name) is not None:
        return value[name]
    return key.default(rendering.stack)


def immutable_changes(base: Rendering, head: Rendering) -> list[ImmutableChange]:
    """Keys that must never change after the first deploy and that differ (absent keys read
    as their defaults). Meaningful for one stack over time, not between two stacks."""
    found = []
    for key in IMMUTABLE_KEYS:
        old, new = _effective(base, key), _effective(head, key)
        if old != new:
            found.append(ImmutableChange(key=key, old=old, new=new))
    return found


# --- presentation ----------------------------------------------------------------------------


def show_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


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
