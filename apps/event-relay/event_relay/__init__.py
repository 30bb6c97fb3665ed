"""The events relay: a publisher table's stream records become its events (docs/events.md).

`handle(records, publish)` is the one code path, on AWS (`handler.lambda_handler`, the Lambda
function on the table's stream) and locally (`stream.StreamRelay`, a process that reads DynamoDB
Local's stream, started by `make local`).
"""

from .handler import event_of, handle, lambda_handler

__all__ = ["event_of", "handle", "lambda_handler"]
