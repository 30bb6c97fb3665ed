"""Error bodies: every error is `{"status", "message"}`; validation errors name each field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **extra}


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(status, message, **extra), status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "items", 0, "quantity")` -> `items[0].quantity`; a header or a path parameter
    keeps its kind: `header Idempotency-Key`."""
    if not loc:
        return "body"
    kind, rest = loc[0], loc[1:]
    name = ""
    for part in rest:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    if kind == "body":
        return name or "body"
    return f"{kind} {name}".strip()


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    malformed = next((p for p in problems if p.get("type") == "json_invalid"), None)
    if malformed is not None:
        position = malformed["loc"][1] if len(malformed["loc"]) > 1 else "?"
        reason = (malformed.get("ctx") or {}).get("error", "not JSON")
        reason = reason.removesuffix(" at")  # json's "Invalid control character at"
        return error_response(
            400, f"body: the request body is not valid JSON ({reason} at position {position})"
        )
    fields = []
    for problem in problems:
        field = _field_name(tuple(problem.get("loc", ())))
        message = str(problem.get("msg", "is not valid"))
        if field == "body" and problem.get("type") in ("model_attributes_type", "dict_type"):
            message = "expected a JSON object"
            if not _is_json(request):
                message += " sent as Content-Type: application/json"
        fields.append({"field": field, "message": message})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(422, summary or "the request is not valid", fields=fields)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return error_response(
        error.status_code, str(error.detail), headers=getattr(error, "headers", None)
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error body is `{"status", "message"}`; validation errors name each field. A path
    no route takes is that 404, never a redirect: the router's slash redirect (`/users/` to
    `/users`) would build its `Location` from the request as this service received it, naming
    the service's own, internal address."""
    app.router.redirect_slashes = False
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
