"""The receive loop: user events from order-service's own queue (EVENTS_QUEUE_URL) into its
view of users (store.py), one loop per task, long polling.

Each message is applied in one transaction with its inbox item and deleted from the queue after
that transaction, or after its conditional failure, which means it was applied before. A
message that cannot be applied stays on the queue: it comes back after the visibility timeout,
and after 5 receives goes to the dead-letter queue. The messages of a batch are applied in
order; after a failure the rest of the batch is left for later, so no user's event overtakes an
earlier one (the queue is FIFO, grouped by user).

Traces: the long poll itself is not traced (a span every 20 s that carries nothing); each
message is one trace, a CONSUMER span `<event type> process` with the transaction and the
delete as its children.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from .store import OrderStore

WAIT_SECONDS = 20
"""Long polling: a receive waits up to this for a message (SQS's most)."""
FAILURE_PAUSE_SECONDS = 1.0
REQUIRED = ("id", "type", "entityId")


class EventConsumer:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        store: OrderStore,
        logger: logging.Logger,
        *,
        wait_seconds: int = WAIT_SECONDS,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.store = store
        self.logger = logger
        self.wait_seconds = wait_seconds
        self.tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def receive_once(self) -> int:
        """One receive, and each message of it applied; the number applied or found applied."""
        with suppress_instrumentation():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            )
        done = 0
        for message in answer.get("Messages", []):
            if self.stopping.is_set() or not self.traced_handle(message):
                break
            done += 1
        return done

    def traced_handle(self, message: dict[str, Any]) -> bool:
        """handle(), in a trace of its own: the message's processing, not the poll's."""
        with self.tracer.start_as_current_span(
            "events process",
            context=trace.set_span_in_context(trace.INVALID_SPAN),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "aws_sqs",
                "messaging.operation.type": "process",
                "messaging.message.id": message.get("MessageId", ""),
            },
        ) as span:
            handled = self.handle(message)
            span.set_attribute("order_service.event.applied", handled)
            return handled

    def handle(self, message: dict[str, Any]) -> bool:
        try:
            event = json.loads(message["Body"])
            if not isinstance(event, dict) or not all(
                isinstance(event.get(f), str) and event[f] for f in REQUIRED
            ):
                raise ValueError(f"an event needs {', '.join(REQUIRED)}")
        except ValueError as error:
            self.logger.error(
                "event not applied: malformed",
                extra={"fields": {"messageId": message.get("MessageId"), "error": str(error)}},
            )
            return False
        fields = {"eventId": event["id"], "type": event["type"], "userId": event["entityId"]}
        try:
            applied = self.store.apply_event(
                event, datetime.now(UTC).isoformat(timespec="milliseconds")
            )
        except Exception as error:  # noqa: BLE001 - left on the queue, received again
            self.logger.warning(
                "event not applied; it will be received again",
                extra={"fields": {**fields, "error": f"{type(error).__name__}: {error}"}},
            )
            return False
        self.logger.info(
            "event applied" if applied else "event already applied", extra={"fields": fields}
        )
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.receive_once()
            except Exception as error:  # noqa: BLE001 - the queue is not answering: retry
                self.logger.warning(
                    "the events queue is unavailable",
                    extra={"fields": {"error": f"{type(error).__name__}: {error}"}},
                )
                self.stopping.wait(FAILURE_PAUSE_SECONDS)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="events", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stops after the receive under way (a message received and not deleted comes back)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)


def sqs_client(region: str, wait_seconds: int) -> Any:
    """An SQS client; AWS_ENDPOINT_URL_SQS, when set, points it at a local endpoint."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2,
        read_timeout=wait_seconds + 10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client("sqs", region_name=region, config=config)
