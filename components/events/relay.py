"""EventRelay: a publisher's table stream, relayed to its topic by a Lambda function.

DynamoDB writes a stream record for every committed change of an item, exactly once and in
the order of that item's changes. An event source mapping reads the stream (one batch per
shard at a time: parallelization factor 1, so an item's records stay in order) and invokes the
relay, which publishes each record that makes one of the publisher's events to its SNS FIFO
topic, one at a time, grouped by the item's id and deduplicated by the record's eventID. A
failing record is retried (the batch is halved around it, and the relay reports the first
record it could not publish, so that nothing after it in the shard is published before it)
until the stream would drop it (24 hours); then its metadata goes to the failure queue (the
platform's, which alarms). The relay's code is the package `event_relay` (apps/event-relay/).
docs/events.md.

Where it logs: the platform's log group for it (`/aws/lambda/<function>`), named in the
function's logging configuration, so that this stack creates no log group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import key_through_service

RUNTIME = "python3.12"
HANDLER = "event_relay.handler.lambda_handler"
RELAY_PACKAGE = HANDLER.split(".")[0]
"""What the function's zip holds: the package the handler is in."""
BATCH_SIZE = 10
TIMEOUT_SECONDS = 60
"""A batch of 10 publishes, each well under a second: a minute leaves room for SNS's retries."""
MAXIMUM_RETRY_ATTEMPTS = 10000
"""The largest Lambda allows: a record is retried until the record age below is reached."""
MAXIMUM_RECORD_AGE_SECONDS = 86400
"""A stream keeps records 24 hours; an older record is gone from the stream anyway."""
ITERATOR_AGE_ALARM_MS = 300_000
"""Alarm when the relay is 5 minutes behind its stream: it is failing, long before any record
is given up."""
TOPIC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
"""A publisher to a topic under a customer-managed key needs these on the key
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""


def relay_archive(code_path: str, package: str = RELAY_PACKAGE) -> pulumi.AssetArchive:
    """The function's zip: the package's Python files alone, at their paths under `code_path`
    (no bytecode cache a local run leaves, no README), so that the archive changes exactly when
    the code does."""
    root = Path(code_path)
    files = sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)
    return pulumi.AssetArchive(
        {p.relative_to(root).as_posix(): pulumi.FileAsset(p.as_posix()) for p in files}
    )


def relay_policy(
    *,
    stream_grant: Sequence[Mapping[str, Any]],
    topic_arn: str,
    key_arn: str,
    failure_queue_arn: str,
    log_group_arn: str,
    region: str,
) -> dict[str, Any]:
    """Everything the relay's role may do, each on one resource: read its table's stream (the
    statements the table grants its stream's reader: `stream_grant`), publish to its own topic
    (and use the events key only as SNS in this region uses it), report a given-up batch to
    its failure queue, and write to its own log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *stream_grant,
            {
                "Sid": "PublishOwnTopic",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            key_through_service(
                sid="EventsKeyThroughSns",
                actions=list(TOPIC_KEY_ACTIONS),
                key_arn=key_arn,
                service="sns",
                region=region,
            ),
            {
                "Sid": "ReportGivenUpBatches",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": failure_queue_arn,
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:log-stream:*",
            },
        ],
    }


def lambda_trust_policy(account_id: str) -> dict[str, Any]:
    """Lambda may assume the role for functions of this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


@dataclass(frozen=True, kw_only=True)
class EventRelayArgs:
    publisher: str
    function_name: str
    failure_queue_arn: pulumi.Input[str]
    """The platform's queue for the batches the mapping gives up (it alarms there)."""
    code_path: str
    """The relay's code, a directory from the project's root (`apps/event-relay`)."""
    code_hash: str
    """A hash of that directory: a change to the code updates the function."""
    publishes: Sequence[str]
    stream_event_names: Sequence[str]
    """The stream records (INSERT, MODIFY, REMOVE) that make those events: the mapping drops
    the others before invoking the relay."""
    topic_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    region: str
    account_id: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    alarm_prefix: str
    """`<project>-<stack>-<service>`: the relay's alarms are `<prefix>-relay-*`."""
    stream_arn: pulumi.Input[str] | None = None
    """The table's stream; EcsService sets it from the table it creates..."""
    stream_grant: pulumi.Input[Sequence[Mapping[str, Any]]] | None = None
    """...with the statements the table grants its stream's reader (ServiceTable's
    stream_read_grant)."""


class EventRelay(pulumi.ComponentResource):
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EventRelayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:events:EventRelay", name, None, opts)
        if args.stream_arn is None or args.stream_grant is None:
            raise ValueError("EventRelayArgs.stream_arn and stream_grant: the relay reads a table")
        child = pulumi.ResourceOptions(parent=self)
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        # --- the function and its role -------------------------------------------------------
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Relays the table stream of {args.publisher} to its event topic",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: json.dumps(lambda_trust_policy(account))
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                args.stream_grant,
                args.topic_arn,
                args.key_arn,
                args.failure_queue_arn,
                args.log_group_arn,
            ).apply(
                lambda values: json.dumps(
                    relay_policy(
                        stream_grant=values[0],
                        topic_arn=values[1],
                        key_arn=values[2],
                        failure_queue_arn=values[3],
                        log_group_arn=values[4],
                        region=args.region,
                    )
                )
            ),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=f"Publishes {', '.join(args.publishes)} from the table of {args.publisher}",
            role=role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            code=relay_archive(args.code_path),
            source_code_hash=args.code_hash,
            architectures=["x86_64"],
            memory_size=128,
            timeout=TIMEOUT_SECONDS,
            environment={
                "variables": {
                    "EVENTS_TOPIC_ARN": args.topic_arn,
                    "PUBLISHES": ",".join(args.publishes),
                }
            },
            logging_config={"log_format": "Text", "log_group": args.log_group_name},
            # It writes its logs only with the policy in place.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[policy], delete_before_replace=True
            ),
        )
        # Lambda checks the role's stream permissions when the mapping is created.
        aws.lambda_.EventSourceMapping(
            f"{name}-trigger",
            event_source_arn=args.stream_arn,
            function_name=function.arn,
            enabled=True,
            starting_position="TRIM_HORIZON",
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=0,
            parallelization_factor=1,
            bisect_batch_on_function_error=True,
            function_response_types=["ReportBatchItemFailures"],
            maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
            maximum_record_age_in_seconds=MAXIMUM_RECORD_AGE_SECONDS,
            destination_config={"on_failure": {"destination_arn": args.failure_queue_arn}},
            filter_criteria={
                "filters": [{"pattern": json.dumps({"eventName": sorted(args.stream_event_names)})}]
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        # --- alarm: the relay is behind its stream ---------------------------------------------
        aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-iterator-age",
            name=f"{args.alarm_prefix}-relay-iterator-age",
            alarm_description=f"The relay of {args.publisher} is over 5 minutes behind its "
            "table's stream: its events are late, and are given up after 24 hours",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            namespace="AWS/Lambda",
            metric_name="IteratorAge",
            dimensions={"FunctionName": function.name},
            comparison_operator="GreaterThanOrEqualToThreshold",
            statistic="Maximum",
            threshold=ITERATOR_AGE_ALARM_MS,
            period=60,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            opts=fixed_name,
        )

        self.function_arn = function.arn
        self.role_arn = role.arn
        self.register_outputs({"functionArn": self.function_arn, "roleArn": self.role_arn})
