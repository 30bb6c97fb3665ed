"""The events relay (apps/event-relay): stream records -> events, as the Lambda function and
the local relay process both run it (docs/events.md)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.apps.conftest import APPS, REGION

RELAY = APPS / "event-relay"
if str(RELAY) not in sys.path:
    sys.path.insert(0, str(RELAY))

from event_relay import handle, lambda_handler  # noqa: E402
from event_relay import handler as relay_handler  # noqa: E402
from event_relay.stream import StreamRelay  # noqa: E402

PUBLISHES = ("user.created", "user.deleted")
USER = {"id": {"S": "u-1"}, "name": {"S": "Ada"}, "email": {"S": "ada@example.com"}}


def record(name: str, sequence: str, *, new: Any = USER, old: Any = USER) -> dict[str, Any]:
    """A stream record as Lambda's event carries it."""
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600.0,
        "Keys": {"id": {"S": "u-1"}},
        "SequenceNumber": sequence,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if name in ("INSERT", "MODIFY"):
        stream["NewImage"] = new
    if name in ("MODIFY", "REMOVE"):
        stream["OldImage"] = old
    return {"eventID": f"ev-{sequence}", "eventName": name, "dynamodb": stream}


def test_an_insert_is_published_as_created_with_the_new_image() -> None:
    published: list[dict[str, Any]] = []
    result = handle([record("INSERT", "100")], published.append, PUBLISHES)
    assert result == {"batchItemFailures": []}
    (message,) = published
    assert message["MessageGroupId"] == "u-1"
    assert message["MessageDeduplicationId"] == "ev-100"
    assert message["MessageAttributes"] == {
        "type": {"DataType": "String", "StringValue": "user.created"}
    }
    assert json.loads(message["Message"]) == {
        "id": "ev-100",
        "type": "user.created",
        "entityId": "u-1",
        "occurredAt": "2026-01-01T00:00:00.000Z",
        "data": {"id": "u-1", "name": "Ada", "email": "ada@example.com"},
    }


def test_a_removal_is_published_as_deleted_with_the_old_image() -> None:
    published: list[dict[str, Any]] = []
    handle([record("REMOVE", "200")], published.append, PUBLISHES)
    body = json.loads(published[0]["Message"])
    assert body["type"] == "user.deleted" and body["data"]["email"] == "ada@example.com"


def test_only_the_listed_events_are_published() -> None:
    published: list[dict[str, Any]] = []
    result = handle([record("MODIFY", "1"), record("INSERT", "2")], published.append, PUBLISHES)
    assert result == {"batchItemFailures": []}
    assert [m["MessageDeduplicationId"] for m in published] == ["ev-2"]


def test_one_publish_per_record_in_order() -> None:
    published: list[dict[str, Any]] = []
    records = [record("INSERT", "1"), record("REMOVE", "2"), record("INSERT", "3")]
    handle(records, published.append, PUBLISHES)
    assert [m["MessageDeduplicationId"] for m in published] == ["ev-1", "ev-2", "ev-3"]


def test_a_failed_publish_stops_the_batch_and_names_its_record() -> None:
    published: list[str] = []

    def publish(message: dict[str, Any]) -> None:
        if message["MessageDeduplicationId"] == "ev-2":
            raise RuntimeError("throttled")
        published.append(message["MessageDeduplicationId"])

    records = [record("INSERT", "1"), record("INSERT", "2"), record("INSERT", "3")]
    result = handle(records, publish, PUBLISHES)
    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert published == ["ev-1"]  # 3 would overtake 2


def test_a_record_without_an_id_key_is_a_failure() -> None:
    bad = record("INSERT", "9")
    bad["dynamodb"]["Keys"] = {"email": {"S": "x"}}
    assert handle([bad], lambda m: None, PUBLISHES) == {
        "batchItemFailures": [{"itemIdentifier": "9"}]
    }


def test_numbers_sets_and_maps_become_plain_json() -> None:
    image = {
        "id": {"S": "u-1"},
        "n": {"N": "3"},
        "f": {"N": "1.5"},
        "tags": {"SS": ["b", "a"]},
        "m": {"M": {"ok": {"BOOL": True}, "none": {"NULL": True}}},
        "l": {"L": [{"N": "1"}, {"S": "x"}]},
    }
    published: list[dict[str, Any]] = []
    handle([record("INSERT", "1", new=image)], published.append, PUBLISHES)
    assert json.loads(published[0]["Message"])["data"] == {
        "id": "u-1",
        "n": 3,
        "f": 1.5,
        "tags": ["a", "b"],
        "m": {"ok": True, "none": None},
        "l": [1, "x"],
    }


def test_publishes_must_name_one_entity() -> None:
    with pytest.raises(ValueError, match="one entity"):
        handle([record("INSERT", "1")], lambda m: None, ("user.created", "order.created"))


@pytest.fixture
def topic_and_queue(aws: None) -> Any:
    """moto's SNS FIFO topic with an SQS FIFO queue subscribed as the stack subscribes one."""
    from moto import mock_aws

    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(
            Name="t-user-service-events.fifo", Attributes={"FifoTopic": "true"}
        )["TopicArn"]
        queue = sqs.create_queue(
            QueueName="t-order-service-events.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps({"type": list(PUBLISHES)}),
            },
        )
        yield topic, sqs, queue


def test_the_lambda_handler_publishes_to_its_topic(
    topic_and_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, sqs, queue = topic_and_queue
    monkeypatch.setenv("EVENTS_TOPIC_ARN", topic)
    monkeypatch.setenv("PUBLISHES", ",".join(PUBLISHES))
    monkeypatch.setattr(relay_handler, "_SNS", None)
    event = {"Records": [record("INSERT", "1"), record("MODIFY", "2"), record("REMOVE", "3")]}
    assert lambda_handler(event, None) == {"batchItemFailures": []}
    # The same record again (a retried batch): deduplicated.
    assert lambda_handler({"Records": [record("INSERT", "1")]}, None) == {"batchItemFailures": []}
    got = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    assert [json.loads(m["Body"])["type"] for m in got] == ["user.created", "user.deleted"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"u-1"}


def test_the_local_relay_resumes_from_its_checkpoint(aws: None, tmp_path: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName="users-table",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        for number in range(3):
            dynamodb.put_item(TableName="users-table", Item={"id": {"S": f"u-{number}"}})
        dynamodb.delete_item(TableName="users-table", Key={"id": {"S": "u-0"}})
        checkpoint = tmp_path / "checkpoint.json"
        published: list[dict[str, Any]] = []
        relay = StreamRelay(
            streams, table["LatestStreamArn"], published.append, list(PUBLISHES), checkpoint
        )
        for _ in range(5):
            relay.step()
        kinds = [json.loads(m["Message"])["type"] for m in published]
        assert kinds == ["user.created"] * 3 + ["user.deleted"]
        # Killed and started again: nothing is published twice, a new write is.
        dynamodb.put_item(TableName="users-table", Item={"id": {"S": "u-9"}})
        again: list[dict[str, Any]] = []
        restarted = StreamRelay(
            streams, table["LatestStreamArn"], again.append, list(PUBLISHES), checkpoint
        )
        for _ in range(5):
            restarted.step()
        assert [m["MessageGroupId"] for m in again] == ["u-9"]


def test_occurred_at_from_a_datetime() -> None:
    rec = record("INSERT", "1")
    rec["dynamodb"]["ApproximateCreationDateTime"] = datetime(2026, 1, 2, tzinfo=UTC)
    published: list[dict[str, Any]] = []
    handle([rec], published.append, PUBLISHES)
    assert json.loads(published[0]["Message"])["occurredAt"] == "2026-01-02T00:00:00.000Z"
