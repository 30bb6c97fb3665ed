"""api-gateway: forwards `/users…` to user-service and `/orders…` to order-service, and serves
the public API's OpenAPI document at `GET /openapi.json`.

Each downstream has its own connection pool and its own timeout, so a slow or failed service
delays or fails only its own routes. A downstream's own answers, errors included, pass through
unchanged; when there is no answer the gateway says why:
- 502: the connection was refused or broke, or the answer was not valid HTTP;
- 503: all its connections stayed busy for half its timeout (100 requests in flight);
- 504: no answer within the service's timeout.

The gateway waits a service's timeout `T` and tells the service, in `X-Request-Budget-Ms`, that
it has `T - HOP_MARGIN_SECONDS` (service_kit.budget): the service answers, a 503 included, before
the gateway gives up, so a 504 is what is left for a service that stopped answering at all. A
client's own `X-Request-Budget-Ms` is not passed on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import TracerProvider

from service_kit import (
    AMZN_TRACE_ID_HEADER,
    BUDGET_HEADER,
    EVERY_REQUEST,
    REQUEST_ID_HEADER,
    RequestContext,
    budget_header,
    downstream_seconds,
    env_seconds,
    env_url,
    error_response,
    error_responses,
    install_error_handlers,
    instrument_app,
)

SERVICE = "api-gateway"
PUBLIC_OPENAPI = Path(__file__).with_name("openapi.json")
"""The public API's OpenAPI document, served at GET /openapi.json: the services' `/users…` and
`/orders…` operations with the gateway's own answers, and its /health; generated from the apps
by scripts/openapi.py (`make openapi`), and held equal to them by tests/apps/test_openapi.py."""
DEFAULT_TIMEOUT = 3.0
RETRY_AFTER = "1"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Headers that concern one connection only (RFC 9110, 7.6.1), and those the gateway sets.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The gateway sets these itself; `traceparent` and `tracestate` are its own client span's (the
# caller's, when it sent them, is the parent of the gateway's server span).
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "x-request-id",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    BUDGET_HEADER.lower(),
}
NOT_RETURNED = HOP_BY_HOP | {
    "content-length",
    "content-encoding",  # the body is passed on decoded
    "x-request-id",
    "x-trace-id",
    "date",
    "server",
}


@dataclass(frozen=True)
class Downstream:
    name: str
    prefix: str
    url: str
    timeout: float


@dataclass(frozen=True)
class Settings:
    downstreams: tuple[Downstream, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            downstreams=(
                Downstream(
                    name="user-service",
                    prefix="/users",
                    url=env_url(environ, "USER_SERVICE_URL"),
                    timeout=env_seconds(environ, "USER_SERVICE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT),
                ),
                Downstream(
                    name="order-service",
                    prefix="/orders",
                    url=env_url(environ, "ORDER_SERVICE_URL"),
                    timeout=env_seconds(environ, "ORDER_SERVICE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT),
                ),
            )
        )


def _client(
    downstream: Downstream,
    transport: httpx.AsyncBaseTransport | None,
    tracer_provider: TracerProvider | None,
) -> Any:
    client = httpx.AsyncClient(
        # Waiting for a free connection gets half the time: past that, 503 rather than 504.
        timeout=httpx.Timeout(downstream.timeout, pool=downstream.timeout / 2),
        # Idle connections close well before the services' 65 s keep-alive ends them.
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
        transport=transport,
    )
    # A client span per forwarded request, whose W3C `traceparent` goes with it.
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
    return client


# W3C trace context a client sends; the gateway is the edge, so it starts every trace itself.
CLIENT_TRACE_CONTEXT = (b"traceparent", b"tracestate")


class StartTracesAtTheEdge:
    """Drops a client's `traceparent`/`tracestate` before the server span reads them: a public
    client must not choose trace ids, nor force a trace to be recorded past the sampling ratio.
    Wraps the instrumented stack, keeping it reachable through `.app` as ASGI wrappers do (FastAPI
    looks for the instrumentation there before adding spans of its own)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [h for h in scope["headers"] if h[0] not in CLIENT_TRACE_CONTEXT]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _start_traces_at_the_edge(app: FastAPI) -> None:
    build_instrumented = app.build_middleware_stack
    app.build_middleware_stack = lambda: StartTracesAtTheEdge(build_instrumented())  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    tracer_provider: TracerProvider | None = None,
    public_openapi: Mapping[str, Any] | None = None,
) -> FastAPI:
    """`tracer_provider`: the global one unless given (tests give their own). `public_openapi`:
    the document served at GET /openapi.json, PUBLIC_OPENAPI's unless given (scripts/openapi.py
    gives one, to generate that file)."""
    logger = logging.getLogger(SERVICE)
    transports = transports or {}
    clients = {
        d.name: _client(d, transports.get(d.name), tracer_provider) for d in settings.downstreams
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for client in clients.values():
            await client.aclose()

    # FastAPI's own document would list the gateway's routes (catch-alls); the public one is
    # served instead.
    app = FastAPI(title=SERVICE, openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(RequestContext, logger=logger)
    instrument_app(app, tracer_provider)
    _start_traces_at_the_edge(app)
    if public_openapi is None:
        public_openapi = json.loads(PUBLIC_OPENAPI.read_text())

    @app.get("/health", responses=error_responses(*EVERY_REQUEST))
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(public_openapi)

    async def forward(downstream: Downstream, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = downstream.url + raw_path.decode("latin-1")
        query = request.scope.get("query_string", b"")
        if query:
            url += "?" + query.decode("latin-1")
        # Also the headers the Connection header names: they too concern this hop only.
        dropped = NOT_FORWARDED | {
            token.strip().lower() for token in request.headers.get("connection", "").split(",")
        }
        headers = [
            (key, value)
            for key, value in request.headers.raw
            if key.decode("latin-1").lower() not in dropped
        ]
        headers.append((REQUEST_ID_HEADER.encode(), request.state.request_id.encode()))
        if request.state.amzn_trace_id:
            headers.append((AMZN_TRACE_ID_HEADER.encode(), request.state.amzn_trace_id.encode()))
        for name, value in budget_header(downstream_seconds(downstream.timeout)).items():
            headers.append((name.encode(), value.encode()))
        body = await request.body()
        client = clients[downstream.name]
        outgoing = client.build_request(request.method, url, headers=headers, content=body)
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(client.send(outgoing), downstream.timeout)
        except httpx.PoolTimeout:
            return _failed(logger, downstream, started, 503, "is busy; try again", "pool")
        except (TimeoutError, httpx.TimeoutException):
            return _failed(
                logger,
                downstream,
                started,
                504,
                f"did not answer within {downstream.timeout:g} s",
                "timeout",
            )
        except httpx.HTTPError as error:
            return _failed(
                logger, downstream, started, 502, "could not be reached", type(error).__name__
            )
        response = Response(content=answer.content, status_code=answer.status_code)
        response.raw_headers.extend(
            (key.lower().encode("latin-1"), value.encode("latin-1"))
            for key, value in answer.headers.multi_items()
            if key.lower() not in NOT_RETURNED
        )
        return response

    def forwarding_to(downstream: Downstream) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            return await forward(downstream, request)

        return route

    # Each prefix, and what is under it; any other path is the router's 404, and an unknown
    # method on a path routed here (PUT /health) its 405 with Allow. The router decides on the
    # decoded path; a path whose segments differ from those of the path as received (dot
    # segments, encoded separators) never gets here (RequestContext's 400), so the service is
    # sent the path that was routed.
    for downstream in settings.downstreams:
        for path in (downstream.prefix, downstream.prefix + "/{path:path}"):
            app.add_api_route(
                path,
                forwarding_to(downstream),
                methods=METHODS,
                include_in_schema=False,
                name=f"{downstream.name} {path}",
            )

    return app


def _failed(
    logger: logging.Logger,
    downstream: Downstream,
    started: float,
    status: int,
    what: str,
    reason: str,
) -> Response:
    logger.warning(
        "downstream failed",
        extra={
            "fields": {
                "downstream": downstream.name,
                "reason": reason,
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
            }
        },
    )
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    return error_response(status, f"{downstream.name} {what}", headers=headers)
