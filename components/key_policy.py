"""The statement every customer-managed key policy here starts with (no Pulumi): shared by the
log key, the alarm topic's key and a table's key."""

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
