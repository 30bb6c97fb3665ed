"""Pure functions for the IAM and KMS documents of the security baseline (no Pulumi)."""

from __future__ import annotations

from typing import Any


def _account_administers_the_key(*, account_id: str, partition: str) -> dict[str, Any]:
    """AWS's default key policy statement: the account controls the key through IAM
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def log_key_policy(*, account_id: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """Key policy for a customer-managed key that encrypts this account's log groups.

    The account keeps control of the key through IAM (AWS's default key policy statement), and
    CloudWatch Logs may use it only for log groups of this account and region.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            _account_administers_the_key(account_id=account_id, partition=partition),
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


def flow_logs_trust_policy(
    *, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """VPC Flow Logs may assume the role, for flow logs of this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"
                    },
                },
            }
        ],
    }


def flow_logs_policy(
    *, log_group_arn: str, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """What VPC Flow Logs needs to deliver to one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            },
            {
                # DescribeLogGroups lists the account's groups; it takes no single group.
                "Sid": "FindTheLogGroup",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": f"arn:{partition}:logs:{region}:{account_id}:log-group:*",
            },
        ],
    }


def alarm_topic_key_policy(
    *, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """Key policy for the key that encrypts the alarm topic.

    CloudWatch publishes alarm notifications to an encrypted topic only if the key lets it
    decrypt and generate data keys; AWS's managed key for SNS cannot be used for that
    (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). The same SNS page
    asks for aws:SourceAccount and aws:SourceArn on such a statement against the confused
    deputy problem, so only this account's alarms, in this region, may use it.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            _account_administers_the_key(account_id=account_id, partition=partition),
            {
                "Sid": "CloudWatchPublishesAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"
                    },
                },
            },
        ],
    }


def infrastructure_trust_policy() -> dict[str, Any]:
    """ECS may assume the role that shifts load balancer traffic in blue/green, linear and
    canary deployments (the trust policy AWS documents for the Amazon ECS infrastructure role
    for load balancers). AWS documents no aws:SourceAccount or aws:SourceArn condition for
    this trust, on that page or on the infrastructure role's
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html,
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/infrastructure_IAM_role.html),
    so none is set: a condition ECS does not satisfy would stop every release."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def account_key_policy(*, account_id: str, partition: str = "aws") -> dict[str, Any]:
    """AWS's default key policy: the account administers the key through IAM policies
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [_account_administers_the_key(account_id=account_id, partition=partition)],
    }
