"""ServiceTable: the DynamoDB table a service owns, and only it may use.

On-demand capacity, a string partition key `id`; in production point-in-time recovery,
deletion protection and a customer-managed key of its own. The application reaches it with
the item-level actions its task role gets on this table's ARN alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.security_documents import account_key_policy

# Item-level actions the applications use (TransactWriteItems is authorised per item, as
# PutItem and ConditionCheckItem): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html
ITEM_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)


def table_policy(table_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnTableItems",
                "Effect": "Allow",
                "Action": list(ITEM_ACTIONS),
                "Resource": table_arn,
            }
        ],
    }


@dataclass(frozen=True, kw_only=True)
class ServiceTableArgs:
    production: bool = False
    """Point-in-time recovery, deletion protection and a customer-managed key."""
    protect: bool = True
    """Deletion protection where production asks for it; a teardown lifts it."""
    retain_on_delete: bool = False
    """Leave the table (and its key) in the account when the stack is destroyed."""
    account_id: pulumi.Input[str] = ""
    """Required in production: the key's policy names the account."""
    partition: pulumi.Input[str] = "aws"


class ServiceTable(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:service_table:ServiceTable", name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        encryption: dict[str, Any] = {"enabled": False}  # AWS owned key, at rest all the same
        if args.production:
            key = aws.kms.Key(
                f"{name}-key",
                description="Encrypts one service's DynamoDB table",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                # AWS's default key policy, stated: the account administers the key through
                # IAM; DynamoDB uses it through grants on behalf of the table's callers.
                policy=pulumi.Output.all(args.account_id, args.partition).apply(
                    lambda values: json.dumps(
                        account_key_policy(account_id=values[0], partition=values[1])
                    )
                ),
                opts=kept,
            )
            encryption = {"enabled": True, "kms_key_arn": key.arn}
        table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[{"name": "id", "type": "S"}],
            point_in_time_recovery={"enabled": args.production},
            deletion_protection_enabled=args.production and args.protect,
            server_side_encryption=encryption,
            opts=kept,
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.register_outputs({"tableName": self.table_name, "tableArn": self.table_arn})


def table_policy_document(table_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(table_arn).apply(lambda arn: json.dumps(table_policy(arn)))
