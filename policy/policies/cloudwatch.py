"""CloudWatch Logs: retention and encryption of log groups (`aws:cloudwatch/logGroup`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.control import LOG_GROUP, Declared

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


@declare.resource(
    name="cloudwatch-log-retention",
    ids="CloudWatch.16",
    description="Log groups keep logs for a set period, never forever.",
    how="Every log group sets `logs.retentionDays`.",
    scope="all",
    on_unknown="deny",
    types=(LOG_GROUP,),
)
def _retention_set(props: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("retentionInDays"):
        yield "the log group keeps its logs forever: set retentionInDays"


@declare.resource(
    name="cloudwatch-log-retention-one-year",
    ids="CloudWatch.16",
    description="Production log groups keep logs for at least 365 days.",
    how="Production keeps logs 365 days.",
    scope="production",
    on_unknown="deny",
    types=(LOG_GROUP,),
)
def _retention_one_year(props: Mapping[str, Any]) -> Iterable[str]:
    days = props.get("retentionInDays")
    if not days or int(days) < 365:
        yield f"retention {days} days is under the 365 days production keeps logs"


@declare.resource(
    name="cloudwatch-log-group-kms",
    ids="CKV_AWS_158",
    description="Production log groups are encrypted with a customer-managed KMS key.",
    how=(
        "`logs.kmsEncryption`: a customer-managed key with rotation that only CloudWatch Logs"
        " of this account and region may use."
    ),
    scope="production",
    # The key's ARN is unknown until the key exists.
    on_unknown="allow",
    types=(LOG_GROUP,),
)
def _log_group_encrypted(props: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("kmsKeyId"):
        yield "the log group is not encrypted with a customer-managed KMS key"


CONTROLS = declare.controls()
