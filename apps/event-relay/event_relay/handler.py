"""Stream records -> events, one SNS FIFO publish per record (docs/events.md, the message).

A record becomes `<entity>.created` (INSERT), `<entity>.updated` (MODIFY) or `<entity>.deleted`
(REMOVE), where `<entity>` is the prefix every name in PUBLISHES shares; a record whose event is
not in PUBLISHES is passed over. Each publish carries MessageGroupId = the item's `id` (the
entity's events keep their order) and MessageDeduplicationId = the record's eventID (a record
published twice, after a retry, is delivered once).

Only boto3, which the Lambda runtime has, is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

VERBS = {"INSERT": "created", "MODIFY": "updated", "REMOVE": "deleted"}
Publish = Callable[[dict[str, Any]], Any]
"""Takes SNS Publish's arguments but TopicArn: Message, MessageGroupId,
MessageDeduplicationId, MessageAttributes."""


class RecordError(ValueError):
    """A record that cannot become an event (no string `id` key, no image)."""


def _plain(value: Mapping[str, Any]) -> Any:
    """A DynamoDB AttributeValue as plain JSON: numbers as int or float, sets as sorted lists,
    binary as base64 text (as the stream's JSON has it)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "B":
        if isinstance(inner, bytes | bytearray):
            import base64

            return base64.b64encode(inner).decode()
        return inner
    if kind in ("SS", "BS"):
        return sorted(_plain({kind[0]: v}) for v in inner)
    if kind == "NS":
        return sorted((_plain({"N": v}) for v in inner), key=float)
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    raise RecordError(f"unknown attribute type {kind!r}")


def _occurred_at(created: Any) -> str:
    """ApproximateCreationDateTime: epoch seconds in Lambda's event, a datetime from boto3."""
    if isinstance(created, datetime):
        moment = created.astimezone(UTC)
    elif isinstance(created, int | float | Decimal):
        moment = datetime.fromtimestamp(float(created), UTC)
    else:
        moment = datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entity_of(publishes: Iterable[str]) -> str:
    """The one entity that the event names share (`user` for user.created, user.deleted)."""
    entities = {name.partition(".")[0] for name in publishes}
    if len(entities) != 1:
        raise ValueError(f"PUBLISHES must name events of one entity, not {sorted(entities)}")
    return entities.pop()


def event_of(record: Mapping[str, Any], publishes: frozenset[str]) -> dict[str, Any] | None:
    """The SNS Publish arguments (TopicArn aside) for one stream record, or None when its event
    is not one the publisher publishes."""
    verb = VERBS.get(record.get("eventName", ""))
    if verb is None:
        return None
    name = f"{entity_of(publishes)}.{verb}"
    if name not in publishes:
        return None
    stream = record.get("dynamodb") or {}
    key = (stream.get("Keys") or {}).get("id") or {}
    entity_id = key.get("S")
    event_id = record.get("eventID")
    if not isinstance(entity_id, str) or not entity_id or not event_id:
        raise RecordError(f"record {event_id!r} has no string id key or no eventID")
    image = stream.get("OldImage" if verb == "deleted" else "NewImage")
    if image is None:
        missing = "OldImage" if verb == "deleted" else "NewImage"
        raise RecordError(f"record {event_id}: no {missing}")
    body = {
        "id": event_id,
        "type": name,
        "entityId": entity_id,
        "occurredAt": _occurred_at(stream.get("ApproximateCreationDateTime")),
        "data": {k: _plain(v) for k, v in sorted(image.items())},
    }
    return {
        "Message": json.dumps(body, separators=(",", ":"), sort_keys=True),
        "MessageGroupId": entity_id,
        "MessageDeduplicationId": event_id,
        "MessageAttributes": {"type": {"DataType": "String", "StringValue": name}},
    }


def handle(
    records: Iterable[Mapping[str, Any]], publish: Publish, publishes: Iterable[str] | None = None
) -> dict[str, list[dict[str, str]]]:
    """Publish each record's event, in order, one publish a record; stop at the first record
    that fails (the ones after it would overtake it) and name it, as Lambda's partial batch
    response does: `{"batchItemFailures": [{"itemIdentifier": <its SequenceNumber>}]}`, from
    which Lambda (or the local relay) retries. `publishes`: PUBLISHES' names unless given."""
    names = frozenset(_publishes(publishes))
    entity_of(names)  # a misconfigured relay fails as a whole, before it publishes anything
    for record in records:
        try:
            message = event_of(record, names)
            if message is not None:
                publish(message)
        except Exception:  # noqa: BLE001 - any failure: this record and those after it are retried
            sequence = (record.get("dynamodb") or {}).get("SequenceNumber", "")
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}


def _publishes(given: Iterable[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    names = [n.strip() for n in os.environ.get("PUBLISHES", "").split(",") if n.strip()]
    if not names:
        raise ValueError("PUBLISHES is not set")
    return names


_SNS: Any = None


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda function's handler: EVENTS_TOPIC_ARN and PUBLISHES from its environment."""
    global _SNS
    topic = os.environ["EVENTS_TOPIC_ARN"]
    if _SNS is None:
        import boto3

        _SNS = boto3.client("sns")
    client = _SNS
    return handle(
        event.get("Records", []), lambda message: client.publish(TopicArn=topic, **message)
    )
