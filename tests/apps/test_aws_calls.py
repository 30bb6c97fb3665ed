"""Every AWS call the applications make, against what their production task roles allow.

The local system runs with a recorder (tests/aws_calls/sitecustomize.py) that writes each
botocore call of each application: its service, operation and parameters. Each call becomes the
IAM requests AWS authorises for it, and, for a table under its own KMS key, the KMS request
DynamoDB makes with the caller's permissions. Each request is evaluated (tests/iam_eval.py)
against the identity policies the rendered production stack attaches to that service's task
role. A request that no statement allows fails the test and names the action.

The event path is driven too: order-service receives and deletes user events on its queue
(SQS actions on the queue's ARN, and for a queue under a customer managed key the kms:Decrypt
SQS makes with the caller's permissions, via sqs.<region>.amazonaws.com). The local relay's
calls (the Lambda function's, on AWS) are not a task role's and are left out here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from offline.render.harness import Rendering
from tests.apps.conftest import running_local_system
from tests.iam_eval import Request, decide

# An end-to-end run of the local system: the slow tier (make test-all).
pytestmark = pytest.mark.slow

RECORDER = Path(__file__).resolve().parent.parent / "aws_calls"
ACCOUNT = "123456789012"

# DynamoDB operations -> the IAM action each one is authorised as, per item for the
# transactions (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html).
SINGLE_ACTIONS = {
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "DeleteItem": "dynamodb:DeleteItem",
    "Query": "dynamodb:Query",
    "Scan": "dynamodb:Scan",
    "DescribeTable": "dynamodb:DescribeTable",
}
TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# For a table under a customer managed key, DynamoDB asks KMS to decrypt the table key with
# the caller's credentials, through DynamoDB (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html).
ON_BEHALF_KMS_ACTIONS = ("kms:Decrypt",)
# SQS operations -> IAM actions (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html);
# a consumer of a queue under a customer managed key needs kms:Decrypt on it, which SQS asks
# for with the caller's permissions (sqs-key-management).
SQS_ACTIONS = {
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
}
SQS_KMS_ACTIONS = ("kms:Decrypt",)


def iam_requests(call: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    """(IAM action, table name) for one recorded call; an operation not mapped here fails."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service == "sqs" and operation in SQS_ACTIONS:
        return [(SQS_ACTIONS[operation], params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])]
    if service != "dynamodb":
        raise AssertionError(
            f"{call['process']} called {service}:{operation}, which this test does not map"
        )
    if operation in SINGLE_ACTIONS:
        return [(SINGLE_ACTIONS[operation], params["TableName"])]
    if operation == "TransactWriteItems":
        found = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            found.append((TRANSACT_WRITE_ACTIONS[kind], body["TableName"]))
        return found
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", item["Get"]["TableName"]) for item in params["TransactItems"]]
    raise AssertionError(
        f"{call['process']} called dynamodb:{operation}, which this test does not map"
    )


def queue_arn(region: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"


def table_arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def key_arn(region: str, owner: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{owner}"


def events_names(prod: Rendering, region: str) -> dict[str, str]:
    """The events' queues and key as ARNs: each queue under the name the stack gives it, the
    events key as `key/events`."""
    names = {
        f"${{{queue.name}.arn}}": queue_arn(region, str(queue.inputs["name"]))
        for queue in prod.of_type("aws:sqs/queue:Queue")
    }
    for key in prod.of_type("aws:kms/key:Key"):
        if key.name.endswith("-events-key"):
            names[f"${{{key.name}.arn}}"] = key_arn(region, "events")
    return names


def concrete(document: Any, names: Mapping[str, str]) -> Any:
    """A rendered document with `${resource.attribute}` references replaced by real ARNs."""
    text = json.dumps(document)
    for reference, value in names.items():
        text = text.replace(reference, value)
    leftover = re.findall(r"\$\{[^}]+\}", text)
    assert not [r for r in leftover if ".arn}" in r], f"unresolved ARNs: {leftover}"
    return json.loads(text)


def task_role_documents(prod: Rendering, service: str, names: Mapping[str, str]) -> list[Any]:
    role = f"${{prod-{service}-task-role.id}}"
    return [
        concrete(json.loads(policy.inputs["policy"]), names)
        for policy in prod.of_type("aws:iam/rolePolicy:RolePolicy")
        if policy.inputs.get("role") == role
    ]


def recorded_calls(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def calls(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[dict[str, Any]], dict[str, str]]]:
    """The local system driven through every data path, and the calls it recorded, with each
    service's local table name."""
    directory = tmp_path_factory.mktemp("aws-calls")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("RECORD_AWS_CALLS_DIR", str(directory))
        monkeypatch.setenv("PYTHONPATH", str(RECORDER))
        with running_local_system(tmp_path_factory.mktemp("local")) as system:
            with httpx.Client(base_url=system.gateway_url, timeout=10) as client:
                user = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
                assert user.status_code == 201, user.text
                user_id = user.json()["id"]
                assert client.get(f"/users/{user_id}").status_code == 200
                order = client.post(
                    "/orders", json={"userId": user_id, "items": [{"sku": "a", "quantity": 1}]}
                )
                assert order.status_code == 201, order.text
                keyed = {"Idempotency-Key": "aws-calls-1"}
                body = {"userId": user_id, "items": [{"sku": "b", "quantity": 2}]}
                first = client.post("/orders", json=body, headers=keyed)
                again = client.post("/orders", json=body, headers=keyed)
                assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
                assert client.get(f"/orders/{order.json()['id']}").status_code == 200
                assert client.get("/orders/does-not-exist").status_code == 404
                # The event path: a user deleted, and order-service told of it.
                assert client.delete(f"/users/{user_id}").status_code == 204
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    refused = client.post(
                        "/orders", json={"userId": user_id, "items": [{"sku": "c", "quantity": 1}]}
                    )
                    if refused.status_code == 422:
                        break
                    time.sleep(0.2)
                assert refused.status_code == 422, refused.text
            tables = {
                service: system.table(service) for service in ("user-service", "order-service")
            }
    yield recorded_calls(directory), tables


def test_the_recorder_saw_each_data_service_call_dynamodb(
    calls: tuple[list[dict[str, Any]], dict[str, str]],
) -> None:
    recorded, tables = calls
    assert {c["process"] for c in recorded if not c["process"].startswith("relay-")} == set(tables)
    operations = {c["operation"] for c in recorded}
    assert {"PutItem", "GetItem", "TransactWriteItems", "DeleteItem"} <= operations
    assert {"ReceiveMessage", "DeleteMessage"} <= operations


def test_every_call_is_allowed_by_the_production_task_role(
    calls: tuple[list[dict[str, Any]], dict[str, str]], prod: Rendering
) -> None:
    recorded, tables = calls
    region = prod.config["aws:region"]
    names: dict[str, str] = events_names(prod, region)
    keys: dict[str, str] = {}
    for table in prod.of_type("aws:dynamodb/table:Table"):
        owner = table.name.removeprefix("prod-").removesuffix("-data-table")
        names[f"${{{table.name}.arn}}"] = table_arn(region, tables[owner])
        key = table.inputs["serverSideEncryption"].get("kmsKeyArn")
        if key:
            keys[tables[owner]] = key_arn(region, owner)
            names[key] = keys[tables[owner]]
    refused: list[str] = []
    for call in recorded:
        if call["service"] != "dynamodb" or call["process"].startswith("relay-"):
            continue  # the queue's calls: the next test; the relay's: the Lambda role's
        documents = task_role_documents(prod, call["process"], names)
        for action, table in iam_requests(call, region):
            requests = [Request(action=action, resource=table_arn(region, table))]
            if table in keys:
                via = {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}
                requests += [
                    Request(action=kms, resource=keys[table], context=via)
                    for kms in ON_BEHALF_KMS_ACTIONS
                ]
            for request in requests:
                decision = decide(documents, request)
                if decision != "allowed":
                    refused.append(f"{call['process']}: {request} is {decision}")
    assert keys, "prod puts a table under its own key"
    assert not refused, "\n".join(sorted(set(refused)))


def test_the_subscribers_queue_calls_are_allowed_by_its_task_role(
    calls: tuple[list[dict[str, Any]], dict[str, str]], prod: Rendering
) -> None:
    recorded, _ = calls
    region = prod.config["aws:region"]
    queues = [
        q
        for q in prod.of_type("aws:sqs/queue:Queue")
        if str(q.inputs.get("name", "")).endswith("-order-service-events.fifo")
    ]
    assert len(queues) == 1, "prod renders order-service's events queue"
    (queue,) = queues
    names = events_names(prod, region)
    for table in prod.of_type("aws:dynamodb/table:Table"):  # the role's other statements
        names[f"${{{table.name}.arn}}"] = table_arn(region, table.name)
        table_key = table.inputs["serverSideEncryption"].get("kmsKeyArn")
        if table_key:
            names[table_key] = key_arn(region, table.name)
    # The local queue has the dev stack's name; on AWS the calls name the prod queue.
    prod_queue = queue_arn(region, str(queue.inputs["name"]))
    key = names[str(queue.inputs["kmsMasterKeyId"])]
    refused: list[str] = []
    for call in recorded:
        if call["service"] != "sqs":
            continue
        documents = task_role_documents(prod, call["process"], names)
        for action, name in iam_requests(call, region):
            assert name.endswith("-order-service-events.fifo"), name
            requests = [Request(action=action, resource=prod_queue)]
            if action == "sqs:ReceiveMessage":
                via = {"kms:ViaService": f"sqs.{region}.amazonaws.com"}
                requests += [
                    Request(action=kms, resource=key, context=via) for kms in SQS_KMS_ACTIONS
                ]
            for request in requests:
                decision = decide(documents, request)
                if decision != "allowed":
                    refused.append(f"{call['process']}: {request} is {decision}")
    assert not refused, "\n".join(sorted(set(refused)))
