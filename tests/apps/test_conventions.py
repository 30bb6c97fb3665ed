"""What every service shares: request ids, JSON logs, config from the environment; and that it
is shared: every app imports service_kit, none ships a copy of it. (Trace ids and spans:
test_tracing.py.)"""

from __future__ import annotations

import ast
import asyncio
import importlib
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind

import service_kit
from service_kit import (
    ConfigError,
    configure_logging,
    env_port,
    env_seconds,
    env_url,
    log_level,
)
from services import CATALOG
from tests.apps.conftest import (
    APP_DIRECTORIES,
    APPS,
    PACKAGES,
    SERVICE_KIT,
    Recorded,
    json_logging,
    lines,
    small_app,
    span_id,
    trace_id,
)


def _top_level_names(path: Path) -> set[str]:
    """The functions and classes a module defines."""
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_no_app_ships_its_own_copy_of_the_shared_library() -> None:
    shared = {
        path.name: (path.read_text(), _top_level_names(path))
        for path in (SERVICE_KIT / "service_kit").glob("*.py")
    }
    public = {name for _, names in shared.values() for name in names if not name.startswith("_")}
    assert {"RequestContext", "serve", "configure_logging"} <= public
    assert set(PACKAGES) == {d.name for d in APP_DIRECTORIES}
    for app in APP_DIRECTORIES:
        assert not list(app.rglob("service_kit")), f"{app.name} carries a service_kit package"
        assert not list(app.rglob("http_common.py")), f"{app.name} carries http_common.py"
        modules = sorted(app.rglob("*.py"))
        for path in modules:
            text = path.read_text()
            name = path.relative_to(APPS)
            assert not any(text == copy for copy, _ in shared.values()), f"{name} is a copy"
            again = sorted(_top_level_names(path) & public)
            assert not again, f"{name} defines service_kit's {again} again"
        imported = any(
            isinstance(node, ast.ImportFrom) and node.module == "service_kit"
            for path in modules
            for node in ast.walk(ast.parse(path.read_text()))
        )
        assert imported, f"{app.name} does not import service_kit"


def task_environment(service: str) -> dict[str, str]:
    """What a task gives the service, from its spec: each callee's URL, its table, its region,
    its spec's variables."""
    spec = CATALOG[service]
    environ = {"AWS_REGION": "us-east-1", **spec.environment}
    for callee in (CATALOG[name] for name in spec.calls):
        environ[callee.url_variable] = (
            f"http://{callee.discovery_name}.dev.internal:{callee.container_port}"
        )
    if spec.table:
        environ["TABLE_NAME"] = f"dev-{service}"
    return environ


@pytest.mark.parametrize("app", APP_DIRECTORIES, ids=lambda d: d.name)
def test_every_app_answers_health_with_its_ids_and_one_log_line(
    app: Path, aws: None, capsys: pytest.CaptureFixture[str], recorded: Recorded
) -> None:
    module = importlib.import_module(f"{PACKAGES[app.name]}.main")
    settings = module.Settings.from_env(task_environment(app.name))
    with json_logging(app.name):
        client = TestClient(module.create_app(settings, tracer_provider=recorded.provider))
        response = client.get("/health", headers={"X-Request-Id": "health-1"})
        out = capsys.readouterr().out
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "health-1"
    (server,) = recorded.of_kind(SpanKind.SERVER)
    assert response.headers["x-trace-id"] == trace_id(server)
    (request,) = [line for line in lines(out) if line["message"] == "request"]
    assert (request["service"], request["path"], request["status"]) == (app.name, "/health", 200)
    assert (request["requestId"], request["traceId"]) == ("health-1", trace_id(server))


@pytest.mark.parametrize("app", APP_DIRECTORIES, ids=lambda d: d.name)
def test_every_app_keeps_the_edge_rules(app: Path, aws: None) -> None:
    """What service_kit gives every app, those `make service` writes included: no redirect,
    HEAD as GET, 405 with Allow, dot segments refused (docs/apps.md, "The API's edge")."""
    module = importlib.import_module(f"{PACKAGES[app.name]}.main")
    client = TestClient(module.create_app(module.Settings.from_env(task_environment(app.name))))
    slash = client.get("/health/", follow_redirects=False)
    assert slash.status_code == 404 and "location" not in slash.headers
    head = client.head("/health")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == client.get("/health").headers["content-length"]
    put = client.put("/health")
    assert (put.status_code, put.headers["allow"]) == (405, "GET, HEAD")
    dots = client.get("/x/%2e%2e/health")
    assert dots.status_code == 400 and dots.json()["message"].startswith("path: refused")


def test_one_json_line_per_request_with_its_ids(
    logs: None, capsys: pytest.CaptureFixture[str], recorded: Recorded
) -> None:
    client = TestClient(small_app(recorded.provider))
    amzn = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    response = client.get("/hello", headers={"X-Request-Id": "abc-1", "X-Amzn-Trace-Id": amzn})
    assert response.headers["x-request-id"] == "abc-1"
    (server,) = recorded.spans()
    assert response.headers["x-trace-id"] == trace_id(server)
    inside, request = lines(capsys.readouterr().out)
    assert inside["message"] == "inside"
    assert inside["requestId"] == "abc-1"
    assert request["message"] == "request"
    assert request["service"] == "test-service"
    assert request["level"] == "INFO"
    assert request["requestId"] == "abc-1"
    for line in (inside, request):
        assert (line["traceId"], line["spanId"]) == (trace_id(server), span_id(server))
        assert line["amznTraceId"] == amzn
    assert (request["method"], request["path"], request["status"]) == ("GET", "/hello", 200)
    assert request["durationMs"] >= 0
    assert request["time"].endswith("+00:00")


async def _asgi_get(app: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """The messages `app` sends for a GET /hello with exactly these raw headers."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/hello",
        "raw_path": b"/hello",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    "given",
    [None, b"", b"x" * 129, b"a b", "ü".encode(), b"a\nb", b"a;b", b"\xff"],
    ids=["absent", "empty", "too-long", "space", "non-ascii", "newline", "semicolon", "byte"],
)
def test_a_missing_or_unsafe_request_id_is_replaced(
    logs: None, capsys: pytest.CaptureFixture[str], given: bytes | None
) -> None:
    headers = [] if given is None else [(b"x-request-id", given)]
    sent = asyncio.run(_asgi_get(small_app(), headers))
    start = sent[0]
    assert start["status"] == 200
    (generated,) = [v.decode() for k, v in start["headers"] if k == b"x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert lines(capsys.readouterr().out)[-1]["requestId"] == generated


def test_an_unhandled_error_is_a_json_500_with_the_request_id(
    logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(small_app(), raise_server_exceptions=False)
    response = client.get("/boom", headers={"X-Request-Id": "r-500"})
    assert response.status_code == 500
    assert response.json() == {"status": 500, "message": "internal error"}
    assert response.headers["x-request-id"] == "r-500"
    error, request = lines(capsys.readouterr().out)
    assert error["level"] == "ERROR" and "RuntimeError: boom" in error["exception"]
    assert request["status"] == 500


def test_an_unknown_route_is_a_json_404(logs: None) -> None:
    response = TestClient(small_app()).get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "message": "Not Found"}


def test_a_malformed_content_length_is_400(logs: None) -> None:
    response = TestClient(small_app()).get("/hello", headers={"Content-Length": "12x"})
    assert response.status_code == 400


def test_log_level_names_in_any_case() -> None:
    assert log_level("debug") == logging.DEBUG
    assert log_level("WARNING") == logging.WARNING
    assert log_level(None) == logging.INFO
    assert log_level("chatty") == logging.INFO


def test_libraries_stay_at_warning_whatever_log_level_says(logs: None) -> None:
    configure_logging("test-service", "debug")
    assert logging.getLogger("test-service").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("botocore").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


def test_port_defaults_to_8080_and_port_overrides_it() -> None:
    assert env_port({}) == 8080
    assert env_port({"PORT": "9000"}) == 9000
    for bad in ("0", "70000", "http"):
        with pytest.raises(ConfigError, match="PORT"):
            env_port({"PORT": bad})


def test_timeouts_and_urls_are_checked() -> None:
    assert env_seconds({}, "T", 2.0) == 2.0
    assert env_seconds({"T": "0.25"}, "T", 2.0) == 0.25
    for bad in ("0", "-1", "soon", "301"):
        with pytest.raises(ConfigError, match="T must be"):
            env_seconds({"T": bad}, "T", 2.0)
    assert env_url({"U": "http://users.dev.internal:8080/"}, "U") == (
        "http://users.dev.internal:8080"
    )
    for bad in ("users:8080", "ftp://users", ""):
        with pytest.raises(ConfigError, match="U"):
            env_url({"U": bad}, "U")


def test_a_service_with_bad_config_exits_2_without_serving(
    logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from order_service.main import SERVICE, Settings, create_app
    from service_kit import serve as order_service_serve

    environ = {"AWS_REGION": "us-east-1", "USER_SERVICE_URL": "http://users:8080"}
    assert order_service_serve(SERVICE, Settings.from_env, create_app, environ) == 2
    (line,) = lines(capsys.readouterr().out)
    assert line["level"] == "ERROR" and line["error"] == "TABLE_NAME is not set"


@pytest.mark.parametrize(
    ("package", "environ"),
    [
        ("user_service", {"TABLE_NAME": "t", "AWS_REGION": "eu-west-1"}),
        (
            "order_service",
            {
                "TABLE_NAME": "t",
                "AWS_REGION": "eu-west-1",
                "USER_SERVICE_URL": "http://users.dev.internal:8080",
                "USER_SERVICE_TIMEOUT_SECONDS": "1",
            },
        ),
        (
            "api_gateway",
            {
                "USER_SERVICE_URL": "http://users.dev.internal:8080",
                "ORDER_SERVICE_URL": "http://orders.dev.internal:8080",
            },
        ),
    ],
)
def test_each_service_reads_its_settings_from_the_environment(
    package: str, environ: dict[str, str]
) -> None:
    module = __import__(f"{package}.main", fromlist=["Settings"])
    assert module.Settings.from_env(environ) is not None
    for name in environ:
        if name.endswith("_TIMEOUT_SECONDS"):
            continue  # optional
        missing = {k: v for k, v in environ.items() if k != name}
        with pytest.raises(ValueError, match=name):  # that app's own ConfigError
            module.Settings.from_env(missing)


def test_order_service_waits_two_seconds_for_user_service_by_default() -> None:
    from order_service.main import Settings

    environ = {"TABLE_NAME": "t", "AWS_REGION": "r", "USER_SERVICE_URL": "http://u:8080"}
    assert Settings.from_env(environ).user_service_timeout == 2.0


def test_the_module_documents_its_limit() -> None:
    assert service_kit.MAX_BODY_BYTES == 64 * 1024
