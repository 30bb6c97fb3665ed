"""Orders, idempotency keys and the users view in order-service's DynamoDB table (partition
key `id`, S).

Four kinds of item share the table, told apart by `kind`:
- an order: `id` (a UUID), `userId`, `items` (list of {sku, quantity}), `status`, `createdAt`;
- an idempotency key: `id` = `idempotency-key#<sha256 of the key>`, `orderId`, `fingerprint`
  (sha256 of the request it came with), `createdAt`;
- a user as order-service knows it from user events: `id` = `user#<user id>`, `userId`,
  `state` (`active`, or `deleted`: a tombstone, final);
- an applied event (the inbox): `id` = `event#<event id>`, `type`, `entityId`, `appliedAt`.
An order created with a key is written in one transaction with its key, each on condition that
its `id` is new: either both exist or neither, and two requests with the same key cannot both
create an order. An event is applied in one transaction with its inbox item, on condition that
the inbox item is new: a redelivered event changes nothing.

A conditional failure on an order's `id`, which the service has just generated, means an earlier
attempt of this same request wrote it (its answer lost): the order exists, and is answered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from service_kit import cancellation_codes, error_code

ORDER = "order"
IDEMPOTENCY_KEY = "idempotency-key"
USER = "user"
EVENT = "event"
ACTIVE = "active"
DELETED = "deleted"
USER_EVENTS = ("user.created", "user.deleted")
Call = Any
"""Runs a DynamoDB call: `call(lambda: client.x(...))` (the request's retries and budget)."""


def _direct(operation: Any) -> Any:
    return operation()


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


def user_id(user: str) -> str:
    return f"{USER}#{user}"


def event_id(event: str) -> str:
    return f"{EVENT}#{event}"


class OrderStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def _get(self, item_id: str, call: Call = _direct) -> dict[str, Any] | None:
        # Strongly consistent: a retry right after the first request must see its order.
        return call(
            lambda: self.client.get_item(
                TableName=self.table, Key={"id": {"S": item_id}}, ConsistentRead=True
            )
        ).get("Item")

    def get_order(self, order_id: str, call: Call = _direct) -> dict[str, Any] | None:
        item = self._get(order_id, call)
        if item is None or item.get("kind", {}).get("S") != ORDER:
            return None
        return _order(item)

    def user_state(self, user: str, call: Call = _direct) -> str | None:
        """`active`, `deleted`, or None for a user no event has told of."""
        item = self._get(user_id(user), call)
        return None if item is None else item["state"]["S"]

    def apply_event(self, event: dict[str, Any], applied_at: str) -> bool:
        """Apply a user event to the view, with its inbox item, in one transaction; False when
        it was applied before (a redelivery). created: the user is active unless a tombstone
        exists; deleted: the tombstone, final."""
        kind, entity = event["type"], event["entityId"]
        inbox = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "id": {"S": event_id(event["id"])},
                    "kind": {"S": EVENT},
                    "type": {"S": kind},
                    "entityId": {"S": entity},
                    "appliedAt": {"S": applied_at},
                },
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
        items = [inbox]
        if kind in USER_EVENTS:
            state = "#s = if_not_exists(#s, :active)" if kind == "user.created" else "#s = :deleted"
            values: dict[str, Any] = {":user": {"S": USER}, ":uid": {"S": entity}}
            values[":active" if kind == "user.created" else ":deleted"] = {
                "S": ACTIVE if kind == "user.created" else DELETED
            }
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"id": {"S": user_id(entity)}},
                        "UpdateExpression": f"SET #k = :user, userId = :uid, {state}",
                        "ExpressionAttributeNames": {"#k": "kind", "#s": "state"},
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException" and (
                cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]
                or self._get(event_id(event["id"])) is not None
            ):
                return False
            raise
        return True

    def replay(self, key: str, call: Call = _direct) -> Replay | None:
        """The order first created with `key`, if any."""
        record = self._get(key_id(key), call)
        if record is None:
            return None
        order = self.get_order(record["orderId"]["S"], call)
        if order is None:  # both are written in one transaction
            raise RuntimeError(f"idempotency key {record['id']['S']} names a missing order")
        return Replay(order=order, fingerprint=record["fingerprint"]["S"])

    def create(
        self,
        order: dict[str, Any],
        created_at: str,
        key: str | None,
        fingerprint: str,
        call: Call = _direct,
    ) -> None:
        """Write the order, and its idempotency key if any, all or nothing. Returns when the
        order is stored, by this attempt or by an earlier one of the same request whose answer
        was lost. KeyTakenError: another order holds the key, and nothing was written."""
        put_order = {
            "TableName": self.table,
            "Item": _order_item(order, created_at),
            "ConditionExpression": "attribute_not_exists(id)",
        }
        if key is None:
            try:
                call(lambda: self.client.put_item(**put_order))
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                # The id was generated for this request: already written.
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
            call(
                lambda: self.client.transact_write_items(
                    TransactItems=[{"Put": put_order}, {"Put": put_key}]
                )
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            codes = cancellation_codes(error)
            if codes[:1] == ["ConditionalCheckFailed"]:
                return  # the order's own id exists: this request wrote it (and its key)
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                raise KeyTakenError from error
            # No reasons given: tell from what is stored.
            if self._get(order["id"], call) is not None:
                return
            if self._get(key_id(key), call) is not None:
                raise KeyTakenError from error
            raise
