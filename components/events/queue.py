"""EventQueue: a subscriber's own SQS FIFO queue of the events it subscribes to.

One SNS subscription per publisher's topic, delivering the message as published (raw), only the
events the subscriber names (a filter policy on the message attribute `type`). The queue admits
SNS only for those topics (`aws:SourceArn`), is encrypted with the events key, and moves a
message it failed to process 5 times to its FIFO dead-letter queue. Alarms: anything in the
dead-letter queue, and a message waiting 5 minutes. The subscriber's task role gets what
`consumer_policy` grants, and nothing else of the queue. docs/events.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import key_through_service

CONSUMER_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
MAX_RECEIVE_COUNT = 5
RETENTION_SECONDS = 1_209_600
"""14 days, SQS's longest, in the queue and in its dead-letter queue (a message keeps its
first enqueue time when it moves to a FIFO dead-letter queue: retain there at least as long)."""
VISIBILITY_TIMEOUT_SECONDS = 60
"""How long a received message stays hidden from other receives: more than one transaction of
the subscriber takes, so that a message is redelivered only when its receiver failed."""
RECEIVE_WAIT_SECONDS = 20
"""Long polling: a receive waits up to 20 s for a message (SQS's longest)."""
OLDEST_MESSAGE_ALARM_SECONDS = 300
EVENT_TYPE_ATTRIBUTE = "type"
"""The message attribute that names the event; subscriptions filter on it."""


def consumer_policy(*, queue_arn: str, key_arn: str, region: str) -> dict[str, Any]:
    """A subscriber's task role: receive, delete and extend messages of its own queue, read its
    attributes, and decrypt with the events key only as SQS in this region uses it
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReceiveOwnEvents",
                "Effect": "Allow",
                "Action": list(CONSUMER_ACTIONS),
                "Resource": queue_arn,
            },
            key_through_service(
                sid="EventsKeyThroughSqs",
                actions="kms:Decrypt",
                key_arn=key_arn,
                service="sqs",
                region=region,
            ),
        ],
    }


def queue_policy(*, queue_arn: str, topic_arns: Sequence[str]) -> dict[str, Any]:
    """SNS may send to the queue for the subscribed topics only (SNS's guide, "Sending Amazon SNS
    messages to an Amazon SQS queue": aws:SourceArn; the principal named rather than `*`)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SubscribedTopicsOnly",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(topic_arns)}},
            }
        ],
    }


def filter_policy(events: Sequence[str]) -> dict[str, list[str]]:
    return {EVENT_TYPE_ATTRIBUTE: sorted(events)}


@dataclass(frozen=True, kw_only=True)
class EventSourceArgs:
    """One publisher the subscriber receives from."""

    publisher: str
    topic_arn: pulumi.Input[str]
    events: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class EventQueueArgs:
    subscriber: str
    queue_name: str
    dead_letter_queue_name: str
    key_arn: pulumi.Input[str]
    sources: Sequence[EventSourceArgs]
    alarm_topic_arn: pulumi.Input[str]
    alarm_prefix: str
    """`<project>-<stack>-<service>`: the queue's alarms are `<prefix>-events-*`."""


class EventQueue(pulumi.ComponentResource):
    queue_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EventQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:events:EventQueue", name, None, opts)
        if not args.sources:
            raise ValueError("EventQueueArgs.sources: a queue receives from at least one topic")
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        common: dict[str, Any] = {
            "fifo_queue": True,
            "content_based_deduplication": False,
            "deduplication_scope": "queue",
            "fifo_throughput_limit": "perQueue",
            "kms_master_key_id": args.key_arn,
            "kms_data_key_reuse_period_seconds": 300,
            "message_retention_seconds": RETENTION_SECONDS,
            "visibility_timeout_seconds": VISIBILITY_TIMEOUT_SECONDS,
            "receive_wait_time_seconds": RECEIVE_WAIT_SECONDS,
            "delay_seconds": 0,
        }
        dead_letters = aws.sqs.Queue(
            f"{name}-dlq", name=args.dead_letter_queue_name, **common, opts=fixed_name
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            **common,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dead_letters.arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
            opts=fixed_name,
        )
        policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *(s.topic_arn for s in args.sources)).apply(
                lambda values: json.dumps(queue_policy(queue_arn=values[0], topic_arns=values[1:]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for source in args.sources:
            aws.sns.TopicSubscription(
                f"{name}-{source.publisher}-subscription",
                topic=source.topic_arn,
                protocol="sqs",
                endpoint=queue.arn,
                raw_message_delivery=True,
                filter_policy=json.dumps(filter_policy(source.events)),
                filter_policy_scope="MessageAttributes",
                # SNS delivers only once the queue admits it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
        for suffix, description, queue_name, metric, threshold in (
            (
                "events-dlq-depth",
                f"{args.subscriber} failed to process events {MAX_RECEIVE_COUNT} times: they "
                f"wait in {args.dead_letter_queue_name}",
                dead_letters.name,
                "ApproximateNumberOfMessagesVisible",
                1,
            ),
            (
                "events-oldest-message",
                f"An event has waited over {OLDEST_MESSAGE_ALARM_SECONDS} s in the queue of "
                f"{args.subscriber}: it is not receiving",
                queue.name,
                "ApproximateAgeOfOldestMessage",
                OLDEST_MESSAGE_ALARM_SECONDS,
            ),
        ):
            aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{suffix.removeprefix('events-')}",
                name=f"{args.alarm_prefix}-{suffix}",
                alarm_description=description,
                alarm_actions=[args.alarm_topic_arn],
                ok_actions=[args.alarm_topic_arn],
                namespace="AWS/SQS",
                metric_name=metric,
                dimensions={"QueueName": queue_name},
                comparison_operator="GreaterThanOrEqualToThreshold",
                statistic="Maximum",
                threshold=threshold,
                period=60,
                evaluation_periods=1,
                treat_missing_data="notBreaching",
                opts=fixed_name,
            )
        self.queue_arn = queue.arn
        self.queue_url = queue.url
        self.dead_letter_queue_arn = dead_letters.arn
        self._key_arn = args.key_arn
        self.register_outputs({"queueArn": self.queue_arn, "queueUrl": self.queue_url})

    def consumer_policy(self, region: str) -> pulumi.Output[str]:
        """The task role's policy for this queue: its messages and the key's decryption."""
        return pulumi.Output.all(self.queue_arn, self._key_arn).apply(
            lambda values: json.dumps(
                consumer_policy(queue_arn=values[0], key_arn=values[1], region=region)
            )
        )
