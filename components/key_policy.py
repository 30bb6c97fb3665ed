"""The statement every customer-managed key policy here starts with, and the identity statement
that lets a role use a key only through one AWS service (no Pulumi): shared by the log key,
the alarm topic's key, a table's key and the events key."""

from __future__ import annotations

from typing import Any


def account_administers_the_key(*, account_id: str, partition: str) -> dict[str, Any]:
    """AWS's default key policy statement: the account controls the key through IAM
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def key_through_service(
    *, sid: str, actions: str | list[str], key_arn: Any, service: str, region: str
) -> dict[str, Any]:
    """An identity statement: `actions` on `key_arn`, only in requests `service` (dynamodb, sns,
    sqs) makes on the caller's behalf in `region` (kms:ViaService,
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
    if not region:
        raise ValueError(f"a key's grant through {service} names the region it is used in")
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
    }
