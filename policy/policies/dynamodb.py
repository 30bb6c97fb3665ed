"""DynamoDB: each task role reaches its own service's table only (`aws:dynamodb/...`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pulumi_policy import (
    PolicyResource,
)

from policies.control import DYNAMODB_TABLE, ROLE_POLICY, Declared, _referenced_by

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


@declare.stack(
    name="dynamodb-own-table-only",
    ids="project",
    description=(
        "A service's task role reaches no other service's DynamoDB table, nor the key that "
        "encrypts one."
    ),
    how=(
        "A service that owns a table gets item-level actions on that table's ARN alone "
        "(`table=True` in its spec) and, for a table under its own key, that key through "
        "DynamoDB (`kms:ViaService`); no other role is granted either."
    ),
    scope="all",
    on_unknown="allow",
)
def _task_roles_reach_own_tables(
    resources: Sequence[PolicyResource],
) -> Iterable[tuple[str, str | None]]:
    """A task role's policies read the ARNs of its own service's tables, and of the keys that
    encrypt them, only. A service's resources are named from its component
    (`<component>-task-role`, `<component>-data-table`, `<component>-data-key`), so ownership
    is read from the names of what a policy reads; a table's key is a key some table's
    `serverSideEncryption` reads."""
    table_keys = _referenced_by(resources, DYNAMODB_TABLE, "serverSideEncryption")
    for policy in resources:
        if policy.resource_type != ROLE_POLICY:
            continue
        dependencies = policy.property_dependencies
        roles = [r for r in dependencies.get("role", []) if r.name.endswith("-task-role")]
        reached = [
            (what, resource)
            for resource in dependencies.get("policy", [])
            for what in (
                "table" if resource.resource_type == DYNAMODB_TABLE else None,
                "table key" if resource.urn in table_keys else None,
            )
            if what is not None
        ]
        for role in roles:
            owner = role.name.removesuffix("-task-role")
            for what, resource in reached:
                if not resource.name.startswith(f"{owner}-"):
                    yield (
                        f"the task role of {owner} reaches {resource.name}, another service's "
                        f"{what}: give each service's role its own table and key only",
                        policy.urn,
                    )


CONTROLS = declare.controls()
