"""The applications' unit tests: each app's package (apps/<service>/<package>) and the library
they share (apps/service-kit/service_kit) are importable here as their image imports them, and
DynamoDB is moto's in-process mock."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from opentelemetry.trace import TracerProvider as AnyTracerProvider

PROJECT = Path(__file__).resolve().parent.parent.parent
APPS = PROJECT / "apps"
SERVICE_KIT = APPS / "service-kit"
"""The library every app imports: one copy, installed into each image."""
DOCKERFILE = APPS / "Dockerfile"
"""The one Dockerfile, whose context is apps/."""
APP_DIRECTORIES = sorted(
    d for d in APPS.iterdir() if (d / "requirements.txt").is_file() and d != SERVICE_KIT
)


def package_of(directory: Path) -> str:
    """An app's package: the one directory in it that `python -m` runs (with a __main__.py)."""
    (package,) = [main.parent.name for main in directory.glob("*/__main__.py")]
    return package


PACKAGES = {directory.name: package_of(directory) for directory in APP_DIRECTORIES}
"""Service name -> its app's package."""
for _directory in [SERVICE_KIT, *APP_DIRECTORIES]:
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))

from service_kit import (  # noqa: E402 - importable once sys.path has the apps
    HEAD_TIMEOUT_SECONDS,
    KEEP_ALIVE_SECONDS,
    RequestContext,
    configure_logging,
    install_error_handlers,
    instrument_app,
    json_error_protocol,
)

REGION = "us-east-1"


def _dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and nothing of the caller's AWS settings: no real account is reached."""
    _dummy_aws(monkeypatch)


@pytest.fixture(scope="module")
def _mocked_dynamodb() -> Iterator[Any]:
    """One moto mock and client per test module (a client takes a tenth of a second)."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as monkeypatch:
        _dummy_aws(monkeypatch)
        with mock_aws():
            yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dynamodb(_mocked_dynamodb: Any, aws: None) -> Iterator[Any]:
    """moto's in-process DynamoDB, with no table; what a test creates is deleted after it."""
    yield _mocked_dynamodb
    for name in _mocked_dynamodb.list_tables()["TableNames"]:
        _mocked_dynamodb.delete_table(TableName=name)


def create_table(client: Any, name: str) -> None:
    """The table as `make local` creates it, which is the stack's (scripts/local.py)."""
    load_script("local").create_table(client, name)


def items(client: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    for _ in range(1000):  # bounded: pages of a small test table
        page = client.scan(**kwargs)
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("the scan did not end")


def big_body(size: int) -> bytes:
    """A JSON object of about `size` bytes."""
    return b'{"name": "' + b"a" * size + b'", "email": "a@example.com"}'


def chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """The body as a stream without Content-Length (chunked transfer encoding)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def running_local_system(log_dir: Path) -> Iterator[Any]:
    """`make local`'s system (scripts/local.py), started; every process is stopped afterwards,
    whatever the tests did."""
    running = load_script("local").LocalSystem(log_dir=log_dir)
    try:
        running.start()
        yield running
    finally:
        running.stop()
    assert not [p.name for p in running.processes.values() if p.running]


@dataclass
class Recorded:
    """A tracer provider of a test's own, and the spans it ended, in the order they ended."""

    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def of_kind(self, kind: SpanKind) -> list[ReadableSpan]:
        return [span for span in self.spans() if span.kind == kind]


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_trace_id(span.context.trace_id)


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_span_id(span.context.span_id)


def parent_id(span: ReadableSpan) -> str | None:
    return format_span_id(span.parent.span_id) if span.parent is not None else None


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """Spans recorded in memory, also botocore's: its instrumentation (process-wide) is bound
    to this provider for the test, and removed after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    botocore = BotocoreInstrumentor()
    if botocore.is_instrumented_by_opentelemetry:
        botocore.uninstrument()
    botocore.instrument(tracer_provider=provider)
    try:
        yield Recorded(provider, exporter)
    finally:
        botocore.uninstrument()
        provider.shutdown()


@contextlib.contextmanager
def json_logging(service: str) -> Iterator[None]:
    """JSON logging as `service` configures it, at INFO; the process's logging restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = (service, "uvicorn", "uvicorn.error", "uvicorn.access")
    saved_loggers = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names
    }
    access_disabled = logging.getLogger("uvicorn.access").disabled
    configure_logging(service, "info")
    try:
        yield
    finally:
        root.handlers, root.level = saved[0], saved[1]
        for name, (handlers, level) in saved_loggers.items():
            logging.getLogger(name).handlers = handlers
            logging.getLogger(name).setLevel(level)
        logging.getLogger("uvicorn.access").disabled = access_disabled


@pytest.fixture
def logs() -> Iterator[None]:
    """JSON logging as a service called test-service configures it (see small_app)."""
    with json_logging("test-service"):
        yield


def small_app(provider: AnyTracerProvider | None = None) -> FastAPI:
    """A service as create_app makes one; its spans go to `provider` (none: the global one,
    which makes no spans unless a test sets it)."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContext, logger=logging.getLogger("test-service"))
    instrument_app(app, provider)

    @app.get("/hello")
    def hello() -> dict[str, str]:
        logging.getLogger("test-service").info("inside")
        return {"hello": "world"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


def lines(out: str) -> list[dict[str, Any]]:
    """JSON log lines, as written to stdout."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --- raw HTTP/1.1, as a client sends it ----------------------------------------------------------

Address = tuple[str, int]


@dataclass
class Answer:
    """What a server sent back on one connection: its first answer, and whether it closed."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool
    """The server closed the connection after this answer (within the read's timeout)."""
    seconds: float
    """From the request's first byte to the answer's end."""
    rest: bytes = b""
    """What came after the first answer (pipelined answers)."""
    lines: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The JSON error body, which every error has."""
        assert self.headers.get("content-type") == "application/json", self.headers
        found = self.json()
        assert set(found) >= {"status", "message"} and found["status"] == self.status, found
        return found


def raw_request(method: str, target: str | bytes, *, headers: str = "", body: bytes = b"") -> bytes:
    """A request as bytes, exactly as given (target included: no normalising, no encoding)."""
    target = target.encode("latin-1") if isinstance(target, str) else target
    head = f"\r\nHost: api\r\n{headers}\r\n".encode("latin-1")
    return method.encode() + b" " + target + b" HTTP/1.1" + head + body


def json_request(path: str, body: bytes, *, headers: str = "") -> bytes:
    return raw_request(
        "POST",
        path,
        headers=f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}",
        body=body,
    )


def exchange(address: Address, data: bytes, *, timeout: float = 5.0, head: bool = False) -> Answer:
    """Send `data` as is on a new connection; read one answer (its head only when `head`:
    the answer to a HEAD has no body), then whether the server closes the connection."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        raw = b""
        closed = False
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed without an answer; got {raw!r}")
            raw += chunk
        head_bytes, _, rest = raw.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest = rest[:length], rest[length:]
        seconds = time.monotonic() - started
        if headers.get("connection", "").lower() == "close":
            sock.settimeout(min(timeout, 2.0))
            with contextlib.suppress(TimeoutError):
                while chunk := sock.recv(65536):
                    rest += chunk
                closed = True
    return Answer(int(lines[0].split()[1]), headers, body, closed, seconds, rest, lines)


def waits_for_close(sock: socket.socket, limit: float) -> tuple[bytes, float | None]:
    """What `sock` receives until the server closes it, and after how long (None: not within
    `limit` seconds)."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return received, None
    return received, time.monotonic() - started


@contextlib.contextmanager
def serving(
    app: Any,
    *,
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
    keep_alive: float = KEEP_ALIVE_SECONDS,
) -> Iterator[Address]:
    """`app` served by uvicorn with the services' protocol (service_kit.json_error_protocol) on
    127.0.0.1, in a thread of this process; stopped afterwards."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
        http=json_error_protocol(head_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
