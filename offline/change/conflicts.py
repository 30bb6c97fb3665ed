"""What a change over time will run into in AWS: conflicts with resources that stay (a
replacement created before its old one is deleted, a name or identity taken), and config
that reaches every resource or must never change after the first deploy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.immutable import IMMUTABLE_KEYS, ImmutableKey
from offline.change import replacements
from offline.change.model import (
    _MISSING,
    GLOBAL_CONFIG,
    ConfigChange,
    Conflict,
    DeployChange,
    ImmutableChange,
    Replacement,
    _json_document,
    _leaves,
    _references,
    _StackNames,
    property_changes,
    show_value,
)
from offline.change.replacements import Identity
from offline.render.harness import UNKNOWN, RecordedResource, Rendering


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
