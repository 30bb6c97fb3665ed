"""Records every AWS call a process makes, when RECORD_AWS_CALLS_DIR names a directory.

Python imports `sitecustomize` at start-up from the first directory on its path that has
one; the end-to-end test puts this directory on PYTHONPATH of each application it starts, so
the applications run unchanged. Each botocore session gets a handler for its
`before-parameter-build` event (botocore's event hooks:
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/events.html), which sees the
service, the operation and the parameters of every call before it is sent, and appends one
JSON line per call to `<dir>/<pid>.jsonl`, with the process's OTEL_SERVICE_NAME.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DIRECTORY = os.environ.get("RECORD_AWS_CALLS_DIR")


def _install(directory: Path) -> None:
    import botocore.session

    path = directory / f"{os.getpid()}.jsonl"
    service_name = os.environ.get("OTEL_SERVICE_NAME", "")

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        line = {
            "process": service_name,
            "service": model.service_model.endpoint_prefix,
            "operation": model.name,
            "params": params,
        }
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\n")

    original = botocore.session.Session.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", record)

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]


if DIRECTORY:
    _install(Path(DIRECTORY))
