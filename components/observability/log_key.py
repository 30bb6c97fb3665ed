"""LogEncryptionKey: a customer-managed KMS key for the stack's CloudWatch log groups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import account_administers_the_key


@dataclass(frozen=True, kw_only=True)
class LogEncryptionKeyArgs:
    account_id: pulumi.Input[str]
    region: str
    partition: pulumi.Input[str] = "aws"
    deletion_window_days: int = 30
    """Days before a scheduled deletion happens; AWS allows 7 to 30."""
    retain_on_delete: bool = False
    """Leave the key in the account when the stack is destroyed, so that kept logs stay
    readable."""


class LogEncryptionKey(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: LogEncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:encryption:LogEncryptionKey", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the CloudWatch log groups of this stack",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    log_key_policy(account_id=values[0], region=args.region, partition=values[1])
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete),
        )
        self.key_arn = key.arn
        self.register_outputs({"keyArn": self.key_arn})


def log_key_policy(*, account_id: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """Key policy for a customer-managed key that encrypts this account's log groups.

    The account keeps control of the key through IAM (AWS's default key policy statement), and
    CloudWatch Logs may use it only for log groups of this account and region.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_the_key(account_id=account_id, partition=partition),
            {
                "Sid": "CloudWatchLogsEncryptsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                        )
                    }
                },
            },
        ],
    }
