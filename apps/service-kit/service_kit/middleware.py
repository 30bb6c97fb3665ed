"""The request middleware every service's own middleware sits in: request ids, the edge's rules
(edge.py), the body limit and its time limit, HEAD as GET, one log line per request, and the
ids a service passes on to those it calls."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from starlette.routing import Match

from .edge import BODY_TIMEOUT_SECONDS, SINGLE_HEADERS, duplicate_json_key, refused_path
from .errors import error_body
from .logs import amzn_trace_id_var, request_id_var
from .tracing import current_trace_ids

MAX_BODY_BYTES = 64 * 1024
"""The largest request body any service accepts; a larger one gets 413."""
REQUEST_ID_HEADER = "X-Request-Id"
TRACE_ID_HEADER = "X-Trace-Id"
"""Every response's OpenTelemetry trace id (W3C, 32 hex digits)."""
AMZN_TRACE_ID_HEADER = "X-Amzn-Trace-Id"
"""The trace header the load balancer adds; logged (as amznTraceId) and passed on."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_AMZN_TRACE_ID = re.compile(r"^[A-Za-z0-9=;._:-]{1,256}$")
_DIGITS = re.compile(r"[0-9]+")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _valid(value: str | None, pattern: re.Pattern[str]) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            try:
                return value.decode("latin-1")
            except UnicodeDecodeError:
                return None
    return None


class _TooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


class _BodyTimeoutError(Exception):
    pass


async def _read_body(receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole body, within `timeout` seconds in all."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _DisconnectedError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _TooLargeError
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise _BodyTimeoutError from None


def _repeated(scope: Scope, names: tuple[str, ...]) -> str | None:
    """The first of `names` that the request's headers carry more than once."""
    counts: dict[bytes, int] = {}
    for key, _ in scope.get("headers", ()):
        counts[key.lower()] = counts.get(key.lower(), 0) + 1
    return next((name for name in names if counts.get(name.encode(), 0) > 1), None)


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_json(send: Send, status: int, body: dict[str, Any], *, close: bool = False) -> None:
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if close:  # the server closes the connection after this answer (RFC 9110, 15.5.9)
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _head_as_get(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """HEAD wherever GET is routed: the application sees a GET (on a copy of the scope: the
    server reads its own to know it must send no body), and a 405's Allow names every method
    the path takes, HEAD wherever GET."""
    if scope["method"] == "HEAD":
        scope = {**scope, "method": "GET"}
    return scope, _allow_every_method(scope, send)


def _routed_methods(scope: Scope) -> set[str]:
    """The methods of every route whose path matches, when the router itself refused the
    method: Starlette's 405 names only the first such route's, so `GET /users/{id}` and
    `DELETE /users/{id}`, two routes, would each hide the other. A route that took the method
    answered the 405 itself (the gateway relays its service's): its Allow stands. The router
    leaves itself in the scope it routed."""
    methods: set[str] = set()
    for route in getattr(scope.get("router"), "routes", ()):
        route_methods = getattr(route, "methods", None)
        match = route.matches(scope)[0]
        if match is Match.FULL:
            return set()
        if route_methods and match is Match.PARTIAL:
            methods |= set(route_methods)
    return methods


def _allow_every_method(scope: Scope, send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 405:
            headers = []
            for key, value in message.get("headers", ()):
                if key.lower() == b"allow":
                    methods = {m.strip().decode() for m in value.split(b",") if m.strip()}
                    methods |= _routed_methods(scope)
                    if "GET" in methods:
                        methods.add("HEAD")
                    value = ", ".join(sorted(methods)).encode()
                headers.append((key, value))
            message = {**message, "headers": headers}
        await send(message)

    return sending


class RequestContext:
    """Outermost middleware of every service's own (inside only the request's server span,
    see instrument_app):

    - takes the request id from `X-Request-Id` (1 to 128 of `A-Z a-z 0-9 . _ : -`) or makes
      one, returns it in the response's `X-Request-Id` and keeps it, with the load balancer's
      trace header, for every log line written while the request is served;
    - returns the request's trace id in `X-Trace-Id` (none without a span: OTEL_SDK_DISABLED);
    - refuses, with 400, a path with a dot segment, an encoded separator or a backslash, and a
      header of SINGLE_HEADERS sent twice (edge.py);
    - reads the whole body before the application runs: more than MAX_BODY_BYTES, announced
      by Content-Length or actually sent, gets 413; not all of it within `body_timeout`
      seconds, 408 and the connection closed; a JSON body with a key repeated in one object,
      400. The application never sees such a request;
    - routes HEAD as GET; a 405's Allow names every route's methods on the path, HEAD with GET;
    - writes one JSON log line per request; an unhandled error becomes a 500 with a JSON body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger: logging.Logger,
        max_body: int = MAX_BODY_BYTES,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ):
        self.app = app
        self.logger = logger
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _valid(_header(scope, b"x-request-id"), _REQUEST_ID) or uuid.uuid4().hex
        amzn_trace_id = _valid(_header(scope, b"x-amzn-trace-id"), _AMZN_TRACE_ID)
        ids = current_trace_ids()
        trace_id = ids[0] if ids is not None else None
        scope.setdefault("state", {}).update(
            request_id=request_id, trace_id=trace_id, amzn_trace_id=amzn_trace_id
        )
        tokens = request_id_var.set(request_id), amzn_trace_id_var.set(amzn_trace_id)
        response = {"status": 0, "started": False, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = [
                    (key, value)
                    for key, value in message.get("headers", ())
                    if key.lower() not in (b"x-request-id", b"x-trace-id")
                ]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                if trace_id is not None:
                    headers.append((b"x-trace-id", trace_id.encode("ascii")))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                response["bytes"] += len(message.get("body", b""))
            await send(message)

        async def refuse(status: int, message: str) -> None:
            await _send_json(send_with_id, status, error_body(status, message))

        try:
            declared = _header(scope, b"content-length")
            path_refused = refused_path(scope.get("raw_path") or scope["path"].encode())
            repeated = _repeated(scope, SINGLE_HEADERS)
            if path_refused is not None:
                await refuse(400, f"path: refused, it has {path_refused}")
            elif declared is not None and not _DIGITS.fullmatch(declared.strip()):
                await refuse(400, "Content-Length: not a number")
            elif declared is not None and int(declared) > self.max_body:
                await _send_json(send_with_id, 413, self._too_large())
            elif repeated is not None:
                await refuse(400, f"header {repeated.title()}: sent more than once")
            else:
                body = await _read_body(receive, self.max_body, self.body_timeout)
                key = duplicate_json_key(body) if body and _is_json(scope) else None
                if key is not None:
                    await refuse(400, f"body: the key {key!r} is repeated in one object")
                else:
                    inner_scope, inner_send = _head_as_get(scope, send_with_id)
                    await self.app(inner_scope, _replay(body, receive), inner_send)
        except _TooLargeError:
            await _send_json(send_with_id, 413, self._too_large())
        except _BodyTimeoutError:
            message = f"body: not received in full within {self.body_timeout:g} s"
            await _send_json(send_with_id, 408, error_body(408, message), close=True)
        except _DisconnectedError:
            response["status"] = 499  # the client went away before sending its whole body
        except Exception:
            self.logger.exception("unhandled error")
            if response["started"]:
                raise
            await _send_json(send_with_id, 500, error_body(500, "internal error"))
        finally:
            self.logger.info(
                "request",
                extra={
                    "fields": {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": response["status"],
                        "durationMs": round((time.perf_counter() - started) * 1000, 1),
                        "responseBytes": response["bytes"],
                    }
                },
            )
            request_id_var.reset(tokens[0])
            amzn_trace_id_var.reset(tokens[1])

    def _too_large(self) -> dict[str, Any]:
        return error_body(413, f"body: the request body is larger than {self.max_body} bytes")


def outgoing_headers(request: Request) -> dict[str, str]:
    """The ids to pass on to a service this one calls (the instrumented HTTP client adds the
    W3C `traceparent` of its own span)."""
    headers = {REQUEST_ID_HEADER: request.state.request_id}
    if request.state.amzn_trace_id:
        headers[AMZN_TRACE_ID_HEADER] = request.state.amzn_trace_id
    return headers
