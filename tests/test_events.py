"""Events between services, as prod renders them (docs/events.md): the publisher's table streams,
its relay reads the stream and publishes to its FIFO topic, the subscriber's FIFO queue receives
what it subscribes to, with a dead-letter queue, a queue policy held to the topic by
aws:SourceArn, and alarms; each IAM statement names its resource (none is on `*`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offline.render.harness import RecordedResource, Rendering
from services import CATALOG
from tests.conftest import container, environment_of
from tests.test_policies import _policy_resources, rendered_violations, run_stack

ALERTS = "${prod-alerts-topic.arn}"
KEY = "${prod-events-key.arn}"
TOPIC = "${prod-events-user-service-topic.arn}"
QUEUE = "microservices-prod-order-service-events.fifo"
DLQ = "microservices-prod-order-service-events-dlq.fifo"

PROJECT = Path(__file__).resolve().parent.parent


def named(rendering: Rendering, name: str) -> RecordedResource:
    (resource,) = [r for r in rendering.resources if r.name == name]
    return resource


def statements_of(resource: RecordedResource, key: str = "policy") -> list[dict[str, Any]]:
    return json.loads(resource.inputs[key])["Statement"]


def test_the_catalog_publishes_and_subscribes_as_the_contract_says() -> None:
    assert CATALOG["user-service"].publishes == ("user.created", "user.deleted")
    assert CATALOG["order-service"].subscribes == ("user.created", "user.deleted")


def test_only_a_publishers_table_streams_new_and_old_images(prod: Rendering) -> None:
    tables = {t.name: t.inputs for t in prod.of_type("aws:dynamodb/table:Table")}
    assert tables["prod-user-service-data-table"]["streamEnabled"] is True
    assert tables["prod-user-service-data-table"]["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert tables["prod-order-service-data-table"]["streamEnabled"] is False
    assert "streamViewType" not in tables["prod-order-service-data-table"]


def test_the_publishers_topic_is_fifo_under_the_events_key(prod: Rendering) -> None:
    topic = named(prod, "prod-events-user-service-topic")
    assert topic.inputs == {
        "name": "microservices-prod-user-service-events.fifo",
        "fifoTopic": True,
        "contentBasedDeduplication": False,
        "fifoThroughputScope": "MessageGroup",
        "kmsMasterKeyId": KEY,
    }
    key = named(prod, "prod-events-key")
    assert key.inputs["enableKeyRotation"] is True
    sns = next(s for s in statements_of(key) if s["Sid"] == "SnsDeliversIntoEncryptedQueues")
    assert sns["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_the_subscribers_queue_and_dead_letter_queue(prod: Rendering) -> None:
    queue = named(prod, "prod-order-service-events-queue").inputs
    dlq = named(prod, "prod-order-service-events-dlq").inputs
    for inputs, name in ((queue, QUEUE), (dlq, DLQ)):
        assert inputs["name"] == name
        assert inputs["fifoQueue"] is True
        assert inputs["kmsMasterKeyId"] == KEY
        assert inputs["contentBasedDeduplication"] is False
        # A message keeps its first enqueue time in a FIFO dead-letter queue: both keep 14 days.
        assert inputs["messageRetentionSeconds"] == 1_209_600
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": "${prod-order-service-events-dlq.arn}",
        "maxReceiveCount": 5,
    }
    assert "redrivePolicy" not in dlq
    assert queue["receiveWaitTimeSeconds"] == 20


def test_the_queue_admits_sns_for_the_subscribed_topic_only(prod: Rendering) -> None:
    policy = named(prod, "prod-order-service-events-queue-policy")
    assert policy.inputs["queueUrl"] == "${prod-order-service-events-queue.url}"
    assert statements_of(policy) == [
        {
            "Sid": "SubscribedTopicsOnly",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": "${prod-order-service-events-queue.arn}",
            "Condition": {"ArnEquals": {"aws:SourceArn": [TOPIC]}},
        }
    ]


def test_one_raw_filtered_subscription_per_publisher(prod: Rendering) -> None:
    (subscription,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs == {
        "topic": TOPIC,
        "protocol": "sqs",
        "endpoint": "${prod-order-service-events-queue.arn}",
        "rawMessageDelivery": True,
        "filterPolicy": json.dumps({"type": ["user.created", "user.deleted"]}),
        "filterPolicyScope": "MessageAttributes",
    }
    # SNS delivers only once the queue admits it.
    assert "prod-order-service-events-queue-policy" in str(subscription.dependencies)


@pytest.mark.parametrize(
    ("name", "metric", "dimension", "threshold"),
    [
        ("prod-order-service-events-alarm-dlq-depth", "ApproximateNumberOfMessagesVisible", DLQ, 1),
        (
            "prod-order-service-events-alarm-oldest-message",
            "ApproximateAgeOfOldestMessage",
            QUEUE,
            300,
        ),
        (
            "prod-events-user-service-alarm-relay-failures",
            "ApproximateNumberOfMessagesVisible",
            "microservices-prod-user-service-relay-failures",
            1,
        ),
        (
            "prod-user-service-relay-alarm-iterator-age",
            "IteratorAge",
            "microservices-prod-user-service-relay",
            300_000,
        ),
    ],
)
def test_the_events_alarms_go_to_the_alert_topic(
    prod: Rendering, name: str, metric: str, dimension: str, threshold: int
) -> None:
    alarm = named(prod, name).inputs
    assert alarm["metricName"] == metric
    assert list(alarm["dimensions"].values()) == [dimension]
    assert alarm["threshold"] == threshold
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["alarmActions"] == alarm["okActions"] == [ALERTS]
    assert alarm["treatMissingData"] == "notBreaching"


def test_the_relay_reads_the_stream_in_order_and_reports_what_it_gives_up(
    prod: Rendering,
) -> None:
    function = named(prod, "prod-user-service-relay-function").inputs
    assert function["runtime"] == "python3.12"
    assert function["handler"] == "event_relay.handler.lambda_handler"
    # Its zip: the package's modules alone, at the handler's import path.
    files = sorted(
        p.relative_to(PROJECT / "apps/event-relay").as_posix()
        for p in (PROJECT / "apps/event-relay/event_relay").glob("*.py")
    )
    assert "event_relay/handler.py" in files
    assert function["code"] == {
        "assetArchive": {f: {"fileAsset": f"apps/event-relay/{f}"} for f in files}
    }
    assert function["environment"] == {
        "variables": {"EVENTS_TOPIC_ARN": TOPIC, "PUBLISHES": "user.created,user.deleted"}
    }
    # It logs to the platform's log group: the stack creates none.
    assert (
        function["loggingConfig"]["logGroup"] == "/aws/lambda/microservices-prod-user-service-relay"
    )
    mapping = named(prod, "prod-user-service-relay-trigger").inputs
    assert mapping["eventSourceArn"] == "${prod-user-service-data-table.streamArn}"
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["parallelizationFactor"] == 1
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["maximumRecordAgeInSeconds"] == 86400
    assert mapping["destinationConfig"] == {
        "onFailure": {"destinationArn": "${prod-events-user-service-relay-failures.arn}"}
    }
    # Only the stream records that make a published event reach the relay.
    (pattern,) = mapping["filterCriteria"]["filters"]
    assert json.loads(pattern["pattern"]) == {"eventName": ["INSERT", "REMOVE"]}
    failures = named(prod, "prod-events-user-service-relay-failures").inputs
    assert failures["fifoQueue"] is False
    assert failures["sqsManagedSseEnabled"] is True


def test_the_relay_role_may_do_exactly_its_job(prod: Rendering) -> None:
    role = named(prod, "prod-user-service-relay-role")
    (trust,) = statements_of(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "${aws.accountId}"}}
    grants = {
        s["Sid"]: (s["Action"], s["Resource"], s.get("Condition"))
        for s in statements_of(named(prod, "prod-user-service-relay-policy"))
    }
    assert grants == {
        "ReadOwnTableStream": (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            "${prod-user-service-data-table.streamArn}",
            None,
        ),
        "OwnTableKeyThroughDynamoDB": (
            "kms:Decrypt",
            "${prod-user-service-data-key.arn}",
            {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        ),
        "PublishOwnTopic": ("sns:Publish", TOPIC, None),
        "EventsKeyThroughSns": (
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            KEY,
            {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
        ),
        "ReportGivenUpBatches": (
            "sqs:SendMessage",
            "${prod-events-user-service-relay-failures.arn}",
            None,
        ),
        "WriteOwnLogs": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            "${prod-events-user-service-relay-logs.arn}:log-stream:*",
            None,
        ),
    }


def test_the_subscribers_task_receives_from_its_own_queue_only(prod: Rendering) -> None:
    assert environment_of(container(prod, "order-service"))["EVENTS_QUEUE_URL"] == (
        "${prod-order-service-events-queue.url}"
    )
    for other in ("user-service", "api-gateway"):
        assert "EVENTS_QUEUE_URL" not in environment_of(container(prod, other))
    policy = named(prod, "prod-order-service-events-policy")
    assert policy.inputs["role"] == "${prod-order-service-task-role.id}"
    assert statements_of(policy) == [
        {
            "Sid": "ReceiveOwnEvents",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            "Resource": "${prod-order-service-events-queue.arn}",
        },
        {
            "Sid": "EventsKeyThroughSqs",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}},
        },
    ]
    # The publisher's task gets nothing new: it publishes nothing itself.
    assert not [
        r
        for r in prod.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.startswith("prod-user-service-events")
    ]


def test_no_identity_statement_of_the_events_is_on_star(prod: Rendering) -> None:
    """The relay's and the subscriber's role policies name their resources; only the events
    key's policy says `*` (in a key policy: the key itself)."""
    policies = [
        p
        for p in prod.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith(("-relay-policy", "-events-policy"))
    ]
    assert len(policies) == 2
    for policy in policies:
        for statement in statements_of(policy):
            resources = statement["Resource"]
            assert "*" not in ([resources] if isinstance(resources, str) else resources), (
                policy.name,
                statement.get("Sid"),
            )


def test_dev_has_the_same_transport(dev: Rendering) -> None:
    """Development encrypts its topics and queues too: SNS cannot deliver into a queue under
    the AWS managed key."""
    assert named(dev, "dev-events-user-service-topic").inputs["kmsMasterKeyId"] == (
        "${dev-events-key.arn}"
    )
    assert named(dev, "dev-order-service-events-queue").inputs["kmsMasterKeyId"] == (
        "${dev-events-key.arn}"
    )


def test_the_graph_and_the_preview_show_the_asynchronous_edges(prod: Rendering) -> None:
    from offline.preview.graph import architecture, to_dot, to_mermaid
    from offline.preview.report import preview_text

    topic = "topic_microservices_prod_user_service_events_fifo"
    mermaid = to_mermaid(architecture(prod))
    assert (
        f'  svc_user_service -.->|"events user.created, user.deleted (table stream, relay)"| '
        f"{topic}\n"
    ) in mermaid
    assert (
        f'  {topic} -.->|"user.created, user.deleted (SQS FIFO {QUEUE})"| svc_order_service\n'
    ) in mermaid
    assert f"{topic} -> svc_order_service" in to_dot(architecture(prod))
    assert "style=dashed" in to_dot(architecture(prod))
    text = preview_text(prod)
    assert (
        "    microservices-prod-user-service-events.fifo -> order-service: user.created, "
        f"user.deleted (SQS FIFO {QUEUE})\n"
    ) in text


# --- the policy pack holds each role to its own queue and topic -----------------------------

OWN_EVENTS = "events-own-queue-and-topic-only"


def _grant(role: str, reached: list[tuple[str, str]]) -> list[Any]:
    """A role policy of `role` whose document reads each (type, name) resource's ARN."""
    items: list[tuple[str, str, dict[str, Any], dict[str, list[str]]]] = [
        (type_, name, {}, {}) for type_, name in reached
    ]
    items.append(("aws:iam/role:Role", role, {}, {}))
    items.append(
        (
            "aws:iam/rolePolicy:RolePolicy",
            f"{role}-policy",
            {"policy": "{}"},
            {"role": [role], "policy": [name for _, name in reached]},
        )
    )
    return _policy_resources(items)


def test_the_rendered_roles_reach_their_own_queue_and_topic_only(prod: Rendering) -> None:
    assert rendered_violations(prod).get(OWN_EVENTS) is None
    # The control sees what it checks: the subscriber's role reads its queue's ARN.
    reads = prod.named("prod-order-service-events-policy").property_dependencies["policy"]
    assert any(urn.endswith("::prod-order-service-events-queue") for urn in reads)


def test_a_role_that_reaches_another_services_queue_or_topic_is_refused() -> None:
    queue = ("aws:sqs/queue:Queue", "prod-order-service-events-queue")
    topic = ("aws:sns/topic:Topic", "prod-events-user-service-topic")
    failures = ("aws:sqs/queue:Queue", "prod-events-user-service-relay-failures")
    assert run_stack(OWN_EVENTS, _grant("prod-order-service-task-role", [queue])) == []
    assert run_stack(OWN_EVENTS, _grant("prod-user-service-relay-role", [topic, failures])) == []
    refused = run_stack(OWN_EVENTS, _grant("prod-user-service-task-role", [queue]))
    assert [m for m, _ in refused] == [
        "the role of prod-user-service reaches prod-order-service-events-queue, a queue that "
        "is not its own: give each service's roles its own events queue and topic only"
    ]
    other_topic = ("aws:sns/topic:Topic", "prod-events-order-service-topic")
    refused = run_stack(OWN_EVENTS, _grant("prod-user-service-relay-role", [other_topic]))
    assert [m for m, _ in refused] == [
        "the role of prod-user-service reaches prod-events-order-service-topic, a topic that "
        "is not its own: give each service's roles its own events queue and topic only"
    ]
