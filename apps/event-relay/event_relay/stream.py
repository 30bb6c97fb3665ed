"""The relay as a process, for the local system: it reads a table's stream as Lambda's event
source mapping does (DescribeStream, parent shards before their children, GetShardIterator,
GetRecords) and hands each batch to the same `handle()` the Lambda function runs. The position
in each shard is checkpointed to a file after `handle` returns, up to the record before any
that failed, so a relay killed mid-stream resumes where it stood: a record it published but did
not checkpoint is published again, with the same MessageDeduplicationId, and delivered once.

    python -m event_relay   # STREAM_ARN, EVENTS_TOPIC_ARN, PUBLISHES, CHECKPOINT_FILE
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .handler import Publish, handle

BATCH = 100
IDLE_SECONDS = 0.05
FAILURE_PAUSE_SECONDS = 0.5


class StreamRelay:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        publish: Publish,
        publishes: list[str],
        checkpoint: Path,
        *,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.publish = publish
        self.publishes = publishes
        self.checkpoint = checkpoint
        self.log = log
        self.positions: dict[str, str] = (
            json.loads(checkpoint.read_text()) if checkpoint.exists() else {}
        )
        self.iterators: dict[str, str | None] = {}
        self.finished: set[str] = set(self.positions.get("__finished__", "").split()) - {""}

    def _save(self) -> None:
        data = dict(self.positions, __finished__=" ".join(sorted(self.finished)))
        partial = self.checkpoint.with_suffix(".tmp")
        partial.write_text(json.dumps(data))
        partial.replace(self.checkpoint)

    def _shards(self) -> list[Mapping[str, Any]]:
        shards: list[Mapping[str, Any]] = []
        start: dict[str, Any] = {}
        for _ in range(100):  # bounded: pages of shards
            description = self.streams.describe_stream(StreamArn=self.stream_arn, **start)[
                "StreamDescription"
            ]
            shards.extend(description["Shards"])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            start = {"ExclusiveStartShardId": last}
        known = {s["ShardId"] for s in shards}
        # A child's records come after its parent's: read it once the parent is finished.
        return [
            s
            for s in shards
            if s["ShardId"] not in self.finished
            and (s.get("ParentShardId") not in known or s.get("ParentShardId") in self.finished)
        ]

    def _iterator(self, shard: str) -> str:
        position = self.positions.get(shard)
        kwargs: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
            if position
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard, **kwargs)[
            "ShardIterator"
        ]

    def step(self) -> int:
        """One pass over the readable shards; the number of records handed to `handle`."""
        seen = 0
        for shard in self._shards():
            shard_id = shard["ShardId"]
            iterator = self.iterators.get(shard_id) or self._iterator(shard_id)
            answer = self.streams.get_records(ShardIterator=iterator, Limit=BATCH)
            records = answer["Records"]
            seen += len(records)
            result = handle(records, self.publish, self.publishes)
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            done = []
            for record in records:
                if record["dynamodb"]["SequenceNumber"] in failed:
                    break
                done.append(record)
            if done:
                self.positions[shard_id] = done[-1]["dynamodb"]["SequenceNumber"]
            if failed:
                self.log(f"publish failed at {sorted(failed)}; retrying from there")
                self.iterators.pop(shard_id, None)  # from the checkpoint, next time
                self._save()
                time.sleep(FAILURE_PAUSE_SECONDS)
                continue
            self.iterators[shard_id] = answer.get("NextShardIterator")
            if answer.get("NextShardIterator") is None:
                self.finished.add(shard_id)
            if done or shard_id in self.finished:
                self._save()
        return seen

    def run(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            try:
                if self.step() == 0:
                    time.sleep(IDLE_SECONDS)
            except Exception as error:  # noqa: BLE001 - the stream or the topic is not answering: retry
                self.log(f"relay error: {type(error).__name__}: {error}")
                self.iterators.clear()
                time.sleep(FAILURE_PAUSE_SECONDS)


def main(environ: Mapping[str, str] = os.environ) -> int:
    import boto3

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    session = boto3.session.Session()
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    streams = session.client("dynamodbstreams", region_name=region)
    sns = session.client("sns", region_name=region)
    topic = environ["EVENTS_TOPIC_ARN"]
    publishes = [n.strip() for n in environ["PUBLISHES"].split(",") if n.strip()]

    def log(line: str) -> None:
        print(json.dumps({"service": "event-relay", "message": line}), flush=True)

    relay = StreamRelay(
        streams,
        environ["STREAM_ARN"],
        lambda message: sns.publish(TopicArn=topic, **message),
        publishes,
        Path(environ["CHECKPOINT_FILE"]),
        log=log,
    )
    log(f"relaying {environ['STREAM_ARN']} to {topic}: {', '.join(publishes)}")
    relay.run(lambda: stopping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
