"""Issue 22's end-to-end runs on the local system (`make local`'s: DynamoDB Local, moto's SNS and
SQS, the relay, the services), all on 127.0.0.1 (DynamoDB Local listens on every interface, for
the module's lifetime only). Bounded: every request has a timeout, every loop a count and a
deadline.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.apps.conftest import items, running_local_system

pytestmark = pytest.mark.slow

TIMEOUT = 10.0
ORDER = [{"sku": "a", "quantity": 1}]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_system(tmp_path_factory.mktemp("events")) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(system: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.gateway_url, timeout=TIMEOUT) as client:
        yield client


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def view(system: Any, user_id: str) -> str | None:
    item = (
        system.dynamodb()
        .get_item(
            TableName=system.table("order-service"),
            Key={"id": {"S": f"user#{user_id}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return None if item is None else item["state"]["S"]


def new_user(gateway: httpx.Client) -> str:
    name = f"u{uuid.uuid4().hex[:8]}"
    created = gateway.post("/users", json={"name": name, "email": f"{name}@example.com"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_an_order_for_a_known_user_with_user_service_stopped_is_201(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)
    wait_until(lambda: view(system, user) == "active", 10, "the user's event applied")
    system.stop_service("user-service")
    try:
        assert gateway.get(f"/users/{user}").status_code == 502
        created = gateway.post("/orders", json={"userId": user, "items": ORDER})
        assert created.status_code == 201, created.text
    finally:
        system.start_service("user-service")
        system.wait_until_healthy("user-service", timeout=30)


def test_a_deleted_users_next_order_is_refused_within_seconds(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)
    assert gateway.post("/orders", json={"userId": user, "items": ORDER}).status_code == 201
    assert gateway.delete(f"/users/{user}").status_code == 204
    deleted = time.monotonic()

    def refused() -> bool:
        answer = gateway.post("/orders", json={"userId": user, "items": ORDER})
        assert answer.status_code in (201, 422), answer.text
        return answer.status_code == 422

    wait_until(refused, 5, "an order for the deleted user refused")
    print(f"refused {time.monotonic() - deleted:.2f} s after the deletion")
    assert view(system, user) == "deleted"


def applied_lines(system: Any) -> list[dict[str, Any]]:
    log = (system.log_dir / "order-service.log").read_text()
    return [
        entry
        for entry in (json.loads(line) for line in log.splitlines() if line.startswith("{"))
        if entry.get("message") == "event applied"
    ]


def test_a_subscriber_killed_mid_stream_applies_every_event_exactly_once(
    system: Any, gateway: httpx.Client
) -> None:
    count = 40
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: new_user(gateway), range(count)))
        deleted = users[: count // 2]
        assert set(pool.map(lambda u: gateway.delete(f"/users/{u}").status_code, deleted)) == {204}
    # Mid-stream: some of these events applied, the rest not yet.
    order_service = system.processes["order-service"]
    order_service.signal(signal.SIGKILL)
    order_service.popen.wait(10)
    system.start_service("order-service")
    system.wait_until_healthy("order-service", timeout=30)
    expected = {u: ("deleted" if u in deleted else "active") for u in users}
    wait_until(
        lambda: all(view(system, u) == state for u, state in expected.items()),
        60,
        "every user's events applied",
    )
    # Each event's change is written in one transaction with its inbox item: one inbox item
    # per event means each was applied, and once.
    table = items(system.dynamodb(), system.table("order-service"))
    inbox = {
        i["id"]["S"].removeprefix("event#")
        for i in table
        if i["kind"]["S"] == "event" and i["entityId"]["S"] in expected
    }
    assert len(inbox) == count + len(deleted)
    # The log agrees: no event is applied twice (a redelivery after the kill is "already
    # applied"). The last lines of the killed process may be lost with it: the log names at
    # most the events of the inbox, not necessarily all of them.
    applied = [e for e in applied_lines(system) if e.get("userId") in expected]
    by_event: dict[str, int] = {}
    for entry in applied:
        by_event[entry["eventId"]] = by_event.get(entry["eventId"], 0) + 1
    assert set(by_event.values()) == {1}, "an event applied twice"
    assert set(by_event) <= inbox


def test_500_keyed_orders_with_client_retries_lose_nothing_and_duplicate_nothing(
    system: Any, gateway: httpx.Client
) -> None:
    user = new_user(gateway)
    wait_until(lambda: view(system, user) == "active", 10, "the user's event applied")
    total, at_a_time = 500, 20
    rng = random.Random(22)
    retries = [rng.random() < 0.3 for _ in range(total)]

    async def run() -> dict[str, str]:
        limit = asyncio.Semaphore(at_a_time)
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=TIMEOUT) as client:

            async def one(number: int) -> tuple[str, str]:
                key = f"k22-{number}-{uuid.uuid4().hex[:6]}"
                body = {"userId": user, "items": [{"sku": f"s{number}", "quantity": 1}]}
                found = ""
                for attempt in range(6):  # bounded: a client's retries
                    async with limit:
                        try:
                            answer = await client.post(
                                "/orders", json=body, headers={"Idempotency-Key": key}
                            )
                        except httpx.TimeoutException:
                            continue
                    if answer.status_code == 201:
                        order_id = answer.json()["id"]
                        assert found in ("", order_id), (key, found, order_id)
                        found = order_id
                        if not (retries[number] and attempt == 0):
                            break  # sometimes retried anyway, as a client that lost the answer
                    else:
                        assert answer.status_code in (503, 504), answer.text
                        await asyncio.sleep(0.2)
                return key, found

            return dict(await asyncio.gather(*(one(n) for n in range(total))))

    started = time.monotonic()
    orders = asyncio.run(asyncio.wait_for(run(), 240))
    print(f"{total} keyed orders in {time.monotonic() - started:.1f} s")
    assert all(orders.values()), "an order never got its 201"
    stored = [
        i
        for i in items(system.dynamodb(), system.table("order-service"))
        if i["kind"]["S"] == "order" and i["userId"]["S"] == user
    ]
    assert sorted(i["id"]["S"] for i in stored) == sorted(orders.values())  # none lost, none twice


def test_a_crashed_service_is_replaced_and_the_others_keep_serving(
    system: Any, gateway: httpx.Client
) -> None:
    users = system.processes["user-service"]
    users.signal(signal.SIGKILL)
    users.popen.wait(10)
    assert gateway.get("/health").status_code == 200
    replaced = system.replace_exited()
    assert [name for name, _ in replaced] == ["user-service"]
    system.wait_until_healthy("user-service", timeout=30)
    new_user(gateway)


def test_600_concurrent_transactions_on_the_local_endpoint_lose_nothing(system: Any) -> None:
    """DynamoDB Local under moto's failure: conditional puts and colliding two-item
    transactions at once, at concurrency 20 (r22 §D: moto lost 1-5 % of the puts)."""
    client = system.dynamodb()
    table = f"stress-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    condition = "attribute_not_exists(id)"

    def put(number: int) -> str:
        client.put_item(
            TableName=table, Item={"id": {"S": f"put-{number}"}}, ConditionExpression=condition
        )
        return "put"

    def transact(number: int) -> str:
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {"id": {"S": f"order-{number}"}},
                            "ConditionExpression": condition,
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {"id": {"S": f"key-{number % 20}"}},
                            "ConditionExpression": condition,
                        }
                    },
                ]
            )
            return "committed"
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException"
            return "cancelled"

    work = [(put, n) for n in range(600)] + [(transact, n) for n in range(600)]
    random.Random(1).shuffle(work)
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda job: job[0](job[1]), work))
    stored = {i["id"]["S"] for i in items(client, table)}
    puts = {f"put-{n}" for n in range(600)}
    committed = {o for o in stored if o.startswith("order-")}
    assert outcomes.count("put") == 600 and puts <= stored  # every acknowledged put is there
    assert outcomes.count("committed") == len(committed) == 20
    assert {f"key-{n}" for n in range(20)} <= stored
    assert len(stored) == 600 + 20 + 20  # no half of a cancelled transaction
    client.delete_table(TableName=table)
