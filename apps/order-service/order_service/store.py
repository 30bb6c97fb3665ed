"""Orders and idempotency keys in order-service's DynamoDB table (partition key `id`, S).

Two kinds of item share the table, told apart by `kind`:
- an order: `id` (a UUID), `userId`, `items` (list of {sku, quantity}), `status`, `createdAt`;
- an idempotency key: `id` = `idempotency-key#<sha256 of the key>`, `orderId`, `fingerprint`
  (sha256 of the request it came with), `createdAt`.
An order created with a key is written in one transaction with its key, each on condition that
its `id` is new: either both exist or neither, and two requests with the same key cannot both
create an order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

ORDER = "order"
IDEMPOTENCY_KEY = "idempotency-key"


class KeyTakenError(Exception):
    """Another request with the same idempotency key created its order first."""


@dataclass(frozen=True)
class Replay:
    order: dict[str, Any]
    fingerprint: str


def key_id(key: str) -> str:
    return f"{IDEMPOTENCY_KEY}#{hashlib.sha256(key.encode()).hexdigest()}"


def _order_item(order: dict[str, Any], created_at: str) -> dict[str, Any]:
    return {
        "id": {"S": order["id"]},
        "kind": {"S": ORDER},
        "userId": {"S": order["userId"]},
        "items": {
            "L": [
                {"M": {"sku": {"S": i["sku"]}, "quantity": {"N": str(i["quantity"])}}}
                for i in order["items"]
            ]
        },
        "status": {"S": order["status"]},
        "createdAt": {"S": created_at},
    }


def _order(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"]["S"],
        "userId": item["userId"]["S"],
        "items": [
            {"sku": i["M"]["sku"]["S"], "quantity": int(Decimal(i["M"]["quantity"]["N"]))}
            for i in item["items"]["L"]
        ],
        "status": item["status"]["S"],
    }


class OrderStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def _get(self, item_id: str) -> dict[str, Any] | None:
        # Strongly consistent: a retry right after the first request must see its order.
        return self.client.get_item(
            TableName=self.table, Key={"id": {"S": item_id}}, ConsistentRead=True
        ).get("Item")

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        item = self._get(order_id)
        if item is None or item.get("kind", {}).get("S") != ORDER:
            return None
        return _order(item)

    def replay(self, key: str) -> Replay | None:
        """The order first created with `key`, if any."""
        record = self._get(key_id(key))
        if record is None:
            return None
        order = self.get_order(record["orderId"]["S"])
        if order is None:  # both are written in one transaction
            raise RuntimeError(f"idempotency key {record['id']['S']} names a missing order")
        return Replay(order=order, fingerprint=record["fingerprint"]["S"])

    def create(
        self, order: dict[str, Any], created_at: str, key: str | None, fingerprint: str
    ) -> None:
        """Write the order, and its idempotency key if any, all or nothing. KeyTakenError: the key
        is already taken, and nothing was written."""
        put_order = {
            "TableName": self.table,
            "Item": _order_item(order, created_at),
            "ConditionExpression": "attribute_not_exists(id)",
        }
        if key is None:
            self.client.put_item(**put_order)
            return
        put_key = {
            "TableName": self.table,
            "Item": {
                "id": {"S": key_id(key)},
                "kind": {"S": IDEMPOTENCY_KEY},
                "orderId": {"S": order["id"]},
                "fingerprint": {"S": fingerprint},
                "createdAt": {"S": created_at},
            },
            "ConditionExpression": "attribute_not_exists(id)",
        }
        try:
            self.client.transact_write_items(TransactItems=[{"Put": put_order}, {"Put": put_key}])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # Cancelled as a whole: the key's condition failed, or a concurrent transaction
            # on the same key conflicted. Either way, if the key now exists, it won.
            if self._get(key_id(key)) is not None:
                raise KeyTakenError from error
            raise
