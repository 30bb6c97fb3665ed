"""EventTransport: what an environment's services share to send each other events.

The events key (a customer-managed KMS key: SQS cannot deliver from SNS into a queue under the
AWS managed key, whose policy cannot be changed), and per publisher an SNS FIFO topic under it,
the log group its relay writes to, and the queue its relay reports given-up batches to (with
its alarm). The topics are the platform's so that subscribers in other stacks can subscribe to
them; the relay's log group is, like a service's, so that a service stack's deploy role needs
no permission to create, delete or configure log groups; the failure queue is, so that a
publisher's service stack creates no queue (its deploy role needs no SQS permission, and its
inline policy stays under IAM's 10,240 characters) and the record of given-up batches outlives
a redeployed relay.
How the events flow, and why this way: docs/events.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import account_administers_the_key

# SQS's guide ("Enable compatibility between AWS services such as Amazon SNS and queues with
# encryption"): the sending service needs these on a queue's key, through the key policy.
SNS_DELIVERY_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
FAILURE_RETENTION_SECONDS = 1_209_600
"""14 days, SQS's longest: the metadata of a batch given up, to replay by hand."""


def events_key_policy(*, account_id: str, partition: str = "aws") -> dict[str, Any]:
    """The account administers the key (so IAM grants the relays and the consumers their use of
    it), and SNS may use it to deliver into the queues encrypted with it
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
    The SNS statement has no condition, as AWS's example: whether SNS's KMS calls carry
    aws:SourceArn or aws:SourceAccount is not documented (docs/events.md)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_the_key(account_id=account_id, partition=partition),
            {
                "Sid": "SnsDeliversIntoEncryptedQueues",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": list(SNS_DELIVERY_KEY_ACTIONS),
                "Resource": "*",
            },
        ],
    }


@dataclass(frozen=True, kw_only=True)
class PublisherArgs:
    """One publisher's share of the transport."""

    name: str
    """The service's name."""
    topic_name: str
    """`<project>-<stack>-<service>-events.fifo`."""
    relay_log_group_name: str
    failure_queue_name: str
    """`<project>-<stack>-<service>-relay-failures`: a standard queue (a stream mapping's
    on-failure destination cannot be FIFO)."""
    alarm_prefix: str
    """The service's alarm prefix: the failure queue's alarm is `<prefix>-relay-failures`."""


@dataclass(frozen=True, kw_only=True)
class EventTransportArgs:
    publishers: Sequence[PublisherArgs]
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str] = "aws"
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str] | None = None
    """The environment's log key, where logs are encrypted with one."""
    retain_on_delete: bool = False
    """Leave the key and the relays' logs in the account when the stack is destroyed."""
    alarm_topic_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class PublisherOutputs:
    topic_arn: pulumi.Output[str]
    relay_log_group_name: pulumi.Output[str]
    relay_log_group_arn: pulumi.Output[str]
    failure_queue_arn: pulumi.Output[str]


class EventTransport(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    publishers: Mapping[str, PublisherOutputs]

    def __init__(
        self, name: str, args: EventTransportArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:events:EventTransport", name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the event topics and queues of this environment",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    events_key_policy(account_id=values[0], partition=values[1])
                )
            ),
            opts=kept,
        )
        publishers: dict[str, PublisherOutputs] = {}
        for publisher in args.publishers:
            topic = aws.sns.Topic(
                f"{name}-{publisher.name}-topic",
                name=publisher.topic_name,
                fifo_topic=True,
                # Every message carries its deduplication id (the stream record's eventID).
                content_based_deduplication=False,
                # Deduplication and the throughput quota per message group (one entity), as
                # ordering is: https://docs.aws.amazon.com/sns/latest/dg/fifo-high-throughput.html
                fifo_throughput_scope="MessageGroup",
                kms_master_key_id=key.arn,
                # A fixed name, unique in the account and region.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            logs = aws.cloudwatch.LogGroup(
                f"{name}-{publisher.name}-relay-logs",
                name=publisher.relay_log_group_name,
                retention_in_days=args.log_retention_days,
                kms_key_id=args.log_kms_key_arn,
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=args.retain_on_delete, delete_before_replace=True
                ),
            )
            failures = aws.sqs.Queue(
                f"{name}-{publisher.name}-relay-failures",
                name=publisher.failure_queue_name,
                # A mapping's on-failure destination is a standard queue (Lambda's guide,
                # services-dynamodb-errors); SQS-managed encryption needs no key grants.
                fifo_queue=False,
                sqs_managed_sse_enabled=True,
                message_retention_seconds=FAILURE_RETENTION_SECONDS,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            aws.cloudwatch.MetricAlarm(
                f"{name}-{publisher.name}-alarm-relay-failures",
                name=f"{publisher.alarm_prefix}-relay-failures",
                alarm_description=f"The relay of {publisher.name} gave up records: their events "
                f"were not published (metadata in {publisher.failure_queue_name})",
                alarm_actions=[args.alarm_topic_arn],
                ok_actions=[args.alarm_topic_arn],
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": failures.name},
                comparison_operator="GreaterThanOrEqualToThreshold",
                statistic="Maximum",
                threshold=1,
                period=60,
                evaluation_periods=1,
                treat_missing_data="notBreaching",
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            publishers[publisher.name] = PublisherOutputs(
                topic_arn=topic.arn,
                relay_log_group_name=logs.name,
                relay_log_group_arn=logs.arn,
                failure_queue_arn=failures.arn,
            )
        self.key_arn = key.arn
        self.publishers = publishers
        self.register_outputs(
            {
                "keyArn": self.key_arn,
                "topicArns": {n: p.topic_arn for n, p in publishers.items()},
            }
        )
