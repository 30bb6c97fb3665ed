"""The services' OpenAPI documents (3.1, FastAPI's): every status an operation can answer is
declared, each error with the one error body's schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel, Field

from .edge import BODY_TIMEOUT_SECONDS
from .middleware import MAX_BODY_BYTES


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error's body: `fields` only for invalid input (422)."""

    status: Annotated[int, Field(ge=400, le=599)]
    message: str
    fields: Annotated[list[FieldError], Field(default_factory=list)]


ERROR_DESCRIPTIONS = {
    400: "Malformed request: not valid HTTP/1.1, a body that is not JSON, a key repeated in a "
    "JSON object, a header sent twice that may be sent once, a path with a dot segment, an "
    "encoded / or \\ or a backslash",
    404: "No such id",
    408: f"The request did not arrive in full within {BODY_TIMEOUT_SECONDS:g} s; the connection "
    "is closed",
    413: f"The body is over {MAX_BODY_BYTES} bytes",
    422: "Invalid input: a field missing, of the wrong type, out of range, unknown, or with a "
    "control or format character; `fields` names each",
    502: "The service behind the gateway could not be reached",
    503: "A dependency is unavailable and nothing was written; `Retry-After` says when to retry",
    504: "The service behind the gateway did not answer in time",
}
EVERY_REQUEST = (400, 408, 413)
"""What any request can be answered, whatever its operation: malformed, too slow, too large."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the error body's schema."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


def path_id(pattern: str) -> Any:
    """A path parameter that publishes its pattern without FastAPI enforcing it: an id that
    does not match is an unknown id (the handler's 404), not a 422."""
    return Annotated[str, Path(json_schema_extra={"pattern": pattern})]


_DEFAULT_422 = "#/components/schemas/HTTPValidationError"


def declared_responses_only(app: FastAPI) -> None:
    """The app's document without the 422 FastAPI adds to every operation with a parameter or
    a body (its HTTPValidationError, a body no service sends: their 422 is ErrorBody, declared
    where it can happen)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    answer = operation.get("responses", {}).get("422", {})
                    schema = answer.get("content", {}).get("application/json", {}).get("schema")
                    if schema == {"$ref": _DEFAULT_422}:
                        del operation["responses"]["422"]
            schemas = document.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
