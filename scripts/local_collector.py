"""`make local`'s stand-in for the OpenTelemetry collector sidecar (scripts/local.py): an
OTLP/HTTP receiver that records every span it is sent."""

from __future__ import annotations

import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_aws import LOCALHOST, LocalError

STOP_TIMEOUT = 10.0

OTLP_TRACES_PATH = "/v1/traces"
"""Where an OTLP/HTTP exporter sends spans, under OTEL_EXPORTER_OTLP_ENDPOINT."""
MAX_EXPORT_BYTES = 16 * 1024 * 1024
"""The largest export the collector stand-in reads (decompressed)."""


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue as plain JSON."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def decode_spans(body: bytes) -> list[dict[str, Any]]:
    """An OTLP/HTTP export request (protobuf `ExportTraceServiceRequest`), one flat dict a span;
    ids as lower-case hex, `parentSpanId` None for a root span."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "service": resource.get("service.name"),
                        "traceId": span.trace_id.hex(),
                        "spanId": span.span_id.hex(),
                        "parentSpanId": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "kind": Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        "status": Status.StatusCode.Name(span.status.code).removeprefix(
                            "STATUS_CODE_"
                        ),
                        "startTimeUnixNano": span.start_time_unix_nano,
                        "endTimeUnixNano": span.end_time_unix_nano,
                        "scope": scope_spans.scope.name,
                        "attributes": {kv.key: _any_value(kv.value) for kv in span.attributes},
                        "resource": resource,
                    }
                )
    return spans


class _ExportError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _export_body(headers: Any, rfile: Any) -> bytes:
    """The request's body, decompressed; _ExportError for what an OTLP exporter never sends."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/x-protobuf":
        raise _ExportError(415, "only application/x-protobuf (OTLP/HTTP protobuf)")
    length = headers.get("Content-Length", "").strip()
    if not length.isdigit():
        raise _ExportError(411, "Content-Length is required")
    if int(length) > MAX_EXPORT_BYTES:
        raise _ExportError(413, f"over {MAX_EXPORT_BYTES} bytes")
    body = rfile.read(int(length))
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise _ExportError(415, f"Content-Encoding {encoding} is not supported")
    # Bounded: a small compressed body could expand without limit.
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        plain = inflater.decompress(body, MAX_EXPORT_BYTES)
    except zlib.error as error:
        raise _ExportError(400, f"not {encoding}: {error}") from error
    if inflater.unconsumed_tail:
        raise _ExportError(413, f"over {MAX_EXPORT_BYTES} bytes decompressed")
    return plain


class SpanCollector:
    """A stand-in for the collector sidecar: an OTLP/HTTP receiver on 127.0.0.1 (a port of
    its own choosing) that decodes each export and keeps its spans, in memory and as JSON lines
    in `path`; with `echo`, also one line a span on stderr."""

    def __init__(self, path: Path, *, echo: bool = False) -> None:
        self.path = path
        self.echo = echo
        self._spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it."""
        if self._server is None:
            raise LocalError("the collector is not running")
        return f"http://{LOCALHOST}:{self._server.server_address[1]}"

    def start(self) -> SpanCollector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                collector._receive(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the services' logs are what the terminal shows

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="span-collector",
            daemon=True,
        )
        self._thread.start()
        return self

    def _receive(self, request: BaseHTTPRequestHandler) -> None:
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        try:
            if request.path != OTLP_TRACES_PATH:
                raise _ExportError(404, f"spans go to {OTLP_TRACES_PATH}")
            try:
                spans = decode_spans(_export_body(request.headers, request.rfile))
            except DecodeError as error:
                raise _ExportError(400, f"not an ExportTraceServiceRequest: {error}") from error
        except _ExportError as error:
            request.close_connection = True
            self._reply(request, error.status, "text/plain", str(error).encode())
            return
        self._record(spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self._reply(request, 200, "application/x-protobuf", answer)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _record(self, spans: list[dict[str, Any]]) -> None:
        with self._lock:
            self._spans.extend(spans)
            with self.path.open("a") as out:
                for span in spans:
                    out.write(json.dumps(span, separators=(",", ":")) + "\n")
        if self.echo:
            for span in spans:
                print(
                    f"span {span['service']} {span['kind']} {span['name']!r} "
                    f"trace={span['traceId']} span={span['spanId']} "
                    f"parent={span['parentSpanId'] or '-'}",
                    file=sys.stderr,
                    flush=True,
                )

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, in the order received."""
        with self._lock:
            return list(self._spans)

    def stop(self) -> None:
        """Stop listening; safe to call more than once."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
