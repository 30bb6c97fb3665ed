"""order-service's own view of users, fed by user events (inbox and view in one transaction),
and honest answers about its writes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ReadTimeoutError
from fastapi.testclient import TestClient

from order_service.events import EventConsumer
from order_service.main import Settings, create_app
from order_service.store import OrderStore
from tests.apps.conftest import REGION, create_table, items
from tests.apps.test_order_service import ORDER, TABLE, TIMEOUT, USER, Users

STAMP = "2026-01-01T00:00:00.000Z"


def event(kind: str, number: int, user: str = USER) -> dict[str, Any]:
    return {"id": f"ev-{number}", "type": kind, "entityId": user, "occurredAt": STAMP, "data": {}}


@pytest.fixture
def store(dynamodb: Any) -> OrderStore:
    create_table(dynamodb, TABLE)
    return OrderStore(dynamodb, TABLE)


def test_created_then_deleted_leaves_a_tombstone(store: OrderStore) -> None:
    assert store.user_state(USER) is None
    assert store.apply_event(event("user.created", 1), STAMP)
    assert store.user_state(USER) == "active"
    assert store.apply_event(event("user.deleted", 2), STAMP)
    assert store.user_state(USER) == "deleted"


def test_a_redelivered_event_changes_nothing(store: OrderStore, dynamodb: Any) -> None:
    assert store.apply_event(event("user.created", 1), STAMP)
    assert store.apply_event(event("user.deleted", 2), STAMP)
    before = items(dynamodb, TABLE)
    # The created event again (a redelivery): already applied, the tombstone stays.
    assert not store.apply_event(event("user.created", 1), STAMP)
    assert items(dynamodb, TABLE) == before
    assert store.user_state(USER) == "deleted"


def test_a_tombstone_is_final(store: OrderStore) -> None:
    store.apply_event(event("user.deleted", 2), STAMP)
    # A created event that is not a redelivery (it never overtakes on a FIFO queue; even so).
    assert store.apply_event(event("user.created", 3), STAMP)
    assert store.user_state(USER) == "deleted"


def app_client(dynamodb: Any, users: Users) -> TestClient:
    settings = Settings(
        table_name=TABLE,
        region=REGION,
        user_service_url="http://users.test:8080",
        user_service_timeout=TIMEOUT,
    )
    return TestClient(
        create_app(settings, dynamodb=dynamodb, user_transport=httpx.MockTransport(users))
    )


def test_a_known_user_needs_no_user_service(store: OrderStore, dynamodb: Any) -> None:
    store.apply_event(event("user.created", 1), STAMP)
    users = Users()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    users.handler = down
    with app_client(dynamodb, users) as client:
        created = client.post("/orders", json=ORDER)
    assert created.status_code == 201, created.text
    assert users.requests == []


def test_a_deleted_user_is_refused_with_422(store: OrderStore, dynamodb: Any) -> None:
    store.apply_event(event("user.created", 1), STAMP)
    store.apply_event(event("user.deleted", 2), STAMP)
    users = Users()  # user-service would still say yes: the view decides
    with app_client(dynamodb, users) as client:
        refused = client.post("/orders", json=ORDER)
    assert refused.status_code == 422
    assert refused.json()["fields"] == [{"field": "userId", "message": "deleted"}]
    assert users.requests == []
    assert [i for i in items(dynamodb, TABLE) if i["kind"]["S"] == "order"] == []


def test_an_unheard_of_user_is_asked_for_with_the_remaining_budget(
    store: OrderStore, dynamodb: Any
) -> None:
    users = Users()
    with app_client(dynamodb, users) as client:
        created = client.post("/orders", json=ORDER, headers={"X-Request-Budget-Ms": "2000"})
    assert created.status_code == 201
    (asked,) = users.requests
    # It waits at most its timeout (0.5 s) and tells user-service less than that.
    assert int(asked.headers["x-request-budget-ms"]) < TIMEOUT * 1000


def test_an_unheard_of_user_with_user_service_down_is_503_never_201(
    store: OrderStore, dynamodb: Any
) -> None:
    users = Users()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    users.handler = down
    with app_client(dynamodb, users) as client:
        answer = client.post("/orders", json=ORDER)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "not created" in answer.json()["message"]


class LostAnswers:
    """Each named operation's first call is applied, then its answer is lost (a timeout)."""

    def __init__(self, real: Any, *operations: str) -> None:
        self.real = real
        self.pending = set(operations)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(**kwargs: Any) -> Any:
            answer = method(**kwargs)
            if name in self.pending:
                self.pending.discard(name)
                raise ReadTimeoutError(endpoint_url="http://dynamodb")
            return answer

        return call


@pytest.mark.parametrize(
    ("operation", "headers"),
    [("put_item", {}), ("transact_write_items", {"Idempotency-Key": "lost-1"})],
    ids=["no-key", "keyed"],
)
def test_an_order_whose_answer_was_lost_is_201_once(
    store: OrderStore, dynamodb: Any, operation: str, headers: dict[str, str]
) -> None:
    store.apply_event(event("user.created", 1), STAMP)
    lossy = LostAnswers(dynamodb, operation)
    with app_client(lossy, Users()) as client:
        created = client.post("/orders", json=ORDER, headers=headers)
        assert created.status_code == 201, created.text
        orders = [i for i in items(dynamodb, TABLE) if i["kind"]["S"] == "order"]
        assert [o["id"]["S"] for o in orders] == [created.json()["id"]]
        if headers:
            again = client.post("/orders", json=ORDER, headers=headers)
            assert again.json()["id"] == created.json()["id"]


# --- the receive loop, on moto's SQS FIFO queue --------------------------------------------------


@pytest.fixture
def queue(aws: None) -> Iterator[tuple[Any, str]]:
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(
            QueueName="orders-events.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "1"},
        )["QueueUrl"]
        yield sqs, url


def send(sqs: Any, url: str, body: dict[str, Any]) -> None:
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(body),
        MessageGroupId=body.get("entityId", "x"),
        MessageDeduplicationId=body.get("id", "x"),
    )


def test_the_receive_loop_applies_each_event_once_and_deletes_it(
    queue: tuple[Any, str], store: OrderStore
) -> None:
    sqs, url = queue
    consumer = EventConsumer(sqs, url, store, logging.getLogger("test"), wait_seconds=0)
    send(sqs, url, event("user.created", 1))
    send(sqs, url, event("user.deleted", 2))
    assert consumer.receive_once() == 2
    assert store.user_state(USER) == "deleted"
    # Delivered again: found applied, deleted from the queue, and the tombstone stays.
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event("user.created", 1)),
        MessageGroupId=USER,
        MessageDeduplicationId="again",
    )
    assert consumer.receive_once() == 1
    assert store.user_state(USER) == "deleted"
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_a_malformed_message_stays_on_the_queue(queue: tuple[Any, str], store: OrderStore) -> None:
    sqs, url = queue
    consumer = EventConsumer(sqs, url, store, logging.getLogger("test"), wait_seconds=0)
    sqs.send_message(
        QueueUrl=url, MessageBody="not json", MessageGroupId="g", MessageDeduplicationId="m1"
    )
    assert consumer.receive_once() == 0
    time.sleep(1.2)  # the visibility timeout
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0, AttributeNames=["All"])
    assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_an_event_applied_but_not_deleted_is_applied_once(
    queue: tuple[Any, str], store: OrderStore, dynamodb: Any
) -> None:
    sqs, url = queue
    # The subscriber died after its transaction, before deleting the message.
    store.apply_event(event("user.created", 1), STAMP)
    send(sqs, url, event("user.created", 1))
    consumer = EventConsumer(sqs, url, store, logging.getLogger("test"), wait_seconds=0)
    assert consumer.receive_once() == 1
    inbox = [i for i in items(dynamodb, TABLE) if i["kind"]["S"] == "event"]
    assert len(inbox) == 1
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
