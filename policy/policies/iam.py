"""IAM: policies without wildcard actions, ECS trust limited to the account (`aws:iam/...`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from policies.control import (
    IAM_POLICY,
    KMS_KEY,
    ROLE,
    ROLE_POLICY,
    Declared,
    _as_list,
    _statements,
)

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""

ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::[^:]+:root$")


def _is_key_administration(statement: Mapping[str, Any], key_policy: bool) -> bool:
    """AWS's default key policy statement: the account itself may administer the key through
    IAM (without it a key can become unmanageable). Only in a KMS key policy."""
    principals = _as_list((statement.get("Principal") or {}).get("AWS"))
    return (
        key_policy
        and _as_list(statement.get("Action")) == ["kms:*"]
        and bool(principals)
        and all(ACCOUNT_ROOT.match(str(p)) for p in principals)
    )


@declare.resource(
    name="iam-no-wildcard-actions",
    ids="IAM.1, IAM.21",
    description=(
        "IAM and KMS key policies name their actions: no `*` and no `service:*` (except "
        "AWS's default key policy statement that lets the account administer a key)."
    ),
    how=(
        "Execution roles name their actions (logs, ECR pulls, exactly the service's secrets);"
        " task roles have none."
    ),
    scope="all",
    # Policy documents that name a resource's ARN are unknown until it exists.
    on_unknown="allow",
    types=(ROLE_POLICY, IAM_POLICY, ROLE, KMS_KEY),
)
def _no_wildcard_actions(props: Mapping[str, Any]) -> Iterable[str]:
    documents = [props.get("policy")] if "policy" in props else []
    documents += [p.get("policy") for p in props.get("inlinePolicies") or []]
    key_policy = "enableKeyRotation" in props or "keyUsage" in props
    for document in filter(None, documents):
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or _is_key_administration(statement, key_policy):
                continue
            for action in _as_list(statement.get("Action")):
                if action == "*" or str(action).endswith(":*"):
                    yield f"allows every action of {action!r}: name the actions it needs"


@declare.resource(
    name="iam-ecs-trust-source-account",
    ids="project (confused deputy)",
    description="Roles that ECS tasks assume trust only this account (aws:SourceAccount).",
    how=(
        "Task and execution roles trust `ecs-tasks.amazonaws.com` with `aws:SourceAccount` "
        "(task roles also `aws:SourceArn`)."
    ),
    scope="all",
    # The trust policy names the account id, which previews may not know.
    on_unknown="allow",
    types=(ROLE,),
)
def _trust_limited_to_account(props: Mapping[str, Any]) -> Iterable[str]:
    for statement in _statements(props["assumeRolePolicy"]):
        services = _as_list((statement.get("Principal") or {}).get("Service"))
        if "ecs-tasks.amazonaws.com" not in services:
            continue
        condition = statement.get("Condition") or {}
        if "aws:SourceAccount" not in (condition.get("StringEquals") or {}):
            yield (
                "ecs-tasks.amazonaws.com may assume the role without an aws:SourceAccount condition"
            )


CONTROLS = declare.controls()
