"""ServiceTable: the DynamoDB table a service owns, and only it may use.

On-demand capacity, a string partition key `id`; in production point-in-time recovery,
deletion protection and a customer-managed key of its own. The application reaches it with
the item-level actions its task role gets on this table's ARN alone and, for a table under its
own key, the use of that key through DynamoDB alone (`access_policy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import account_administers_the_key, key_through_service

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


# For a table under a customer managed key, DynamoDB calls KMS on behalf of the principal that
# reads or writes, so that principal needs these on the key (AWS: "How Amazon DynamoDB uses AWS
# KMS", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html;
# aws-cdk grants the same through its TableGrants, packages/aws-cdk-lib/aws-dynamodb/lib/perms.ts).
# Without them the deploy succeeds (`/health` never reads the table) and every data call fails.
KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
)


def table_policy(table_arn: str, *, key_arn: str | None = None, region: str = "") -> dict[str, Any]:
    """Everything a task role needs to use one table: its items and, when the table has a key
    of its own, that key, and only as DynamoDB in this region uses it (kms:ViaService)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnTableItems",
            "Effect": "Allow",
            "Action": list(ITEM_ACTIONS),
            "Resource": table_arn,
        }
    ]
    if key_arn is not None:
        statements.append(
            key_through_service(
                sid="OwnTableKeyThroughDynamoDB",
                actions=list(KEY_ACTIONS),
                key_arn=key_arn,
                service="dynamodb",
                region=region,
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)
"""What a stream's reader (a Lambda event source mapping, as the function's role) needs on the
stream. Lambda's guide also names dynamodb:ListStreams, which takes no resource (Service
Authorization Reference, DynamoDB: ListStreams has no resource type), so it could only be
granted on `*`; a mapping is given its stream's ARN, and the grant leaves it out
(docs/events.md, "Not verified without AWS")."""


def stream_read_statements(
    stream_arn: str, *, key_arn: str | None = None, region: str = ""
) -> list[dict[str, Any]]:
    """Everything a reader of the table's stream needs: the stream and, for a table under its
    own key, kms:Decrypt on that key through DynamoDB ("DynamoDB streams are always encrypted
    with a table-level encryption key": encryption.usagenotes; aws-cdk's grantStreamRead grants
    the key's Decrypt the same way)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnTableStream",
            "Effect": "Allow",
            "Action": list(STREAM_READ_ACTIONS),
            "Resource": stream_arn,
        }
    ]
    if key_arn is not None:
        statements.append(
            key_through_service(
                sid="OwnTableKeyThroughDynamoDB",
                actions="kms:Decrypt",
                key_arn=key_arn,
                service="dynamodb",
                region=region,
            )
        )
    return statements


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
    stream: bool = False
    """Write every committed change of an item to the table's stream, with the item before and
    after (a publisher's: its relay makes events of them, docs/events.md)."""


# What a publisher's stream records carry: the item after an insert or change, before a removal.
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


class ServiceTable(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str] | None
    """The table's own key; None under the AWS owned key."""
    stream_arn: pulumi.Output[str] | None
    """The table's stream, where it has one."""

    def __init__(
        self, name: str, args: ServiceTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:service_table:ServiceTable", name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        encryption: dict[str, Any] = {"enabled": False}  # AWS owned key, at rest all the same
        self.key_arn = None
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
            self.key_arn = key.arn
        table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[{"name": "id", "type": "S"}],
            point_in_time_recovery={"enabled": args.production},
            deletion_protection_enabled=args.production and args.protect,
            server_side_encryption=encryption,
            # Said either way: a stream left out of the inputs would stay as it was.
            stream_enabled=args.stream,
            stream_view_type=STREAM_VIEW_TYPE if args.stream else None,
            opts=kept,
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.stream_arn = table.stream_arn if args.stream else None
        self.register_outputs(
            {"tableName": self.table_name, "tableArn": self.table_arn, "keyArn": self.key_arn}
        )

    def stream_read_grant(self, region: str) -> pulumi.Output[list[dict[str, Any]]]:
        """The statements a reader of this table's stream needs (its relay's role)."""
        if self.stream_arn is None:
            raise ValueError("the table has no stream")
        return pulumi.Output.all(self.stream_arn, self.key_arn).apply(
            lambda values: stream_read_statements(values[0], key_arn=values[1], region=region)
        )

    def access_policy(self, region: str) -> pulumi.Output[str]:
        """The task role's policy for this table: its items and, if it has one, its key."""
        return pulumi.Output.all(self.table_arn, self.key_arn).apply(
            lambda values: json.dumps(table_policy(values[0], key_arn=values[1], region=region))
        )


def account_key_policy(*, account_id: str, partition: str = "aws") -> dict[str, Any]:
    """AWS's default key policy: the account administers the key through IAM policies
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [account_administers_the_key(account_id=account_id, partition=partition)],
    }
