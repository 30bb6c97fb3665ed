"""Resource-by-resource, property-by-property differences between two renderings.

Resources are matched by type and logical name. Inputs that hold a JSON document (container
definitions, IAM policies) are compared inside the document.

Each changed resource is either updated in place (`~`) or replaced (`+-`), as the provider
decides from the inputs that changed (`offline.change.replacements`). When the two sides are the
same stack (a change over time, what `pulumi up` would do), the diff also follows replacements
through the resources that read them, flags changes that will conflict in AWS, and warns of
config keys that must never change after the first deploy (`config.immutable`).

When the two sides are different stacks, the stack's name inside names and values (as a whole
token, so `production` stays) reads as `<stack>` on both sides, so that `dev` and `prod` line
up and only real differences show. Replacements are then marked, but not followed: the two
stacks are not one deployment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from offline.change import replacements, sticky
from offline.change.conflicts import _conflicts, config_changes, immutable_changes
from offline.change.model import (
    Conflict,
    DeployChange,
    ImmutableChange,
    PropertyChange,
    Replacement,
    ResourceDiff,
    _leaves,
    _options,
    _references,
    _StackNames,
    property_changes,
    show_value,
)
from offline.estimates import cost, rollout
from offline.render.harness import RecordedResource, Rendering

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
