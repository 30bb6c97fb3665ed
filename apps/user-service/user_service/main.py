"""user-service's HTTP API: `POST /users`, `GET /users/{id}`, `GET /health`."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel, ConfigDict, field_validator

from service_kit import (
    EVERY_REQUEST,
    TEXT_REFUSED,
    RequestContext,
    declared_responses_only,
    env_region,
    env_required,
    error_response,
    error_responses,
    install_error_handlers,
    instrument_app,
    path_id,
    text_field,
)

SERVICE = "user-service"
ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_PATTERN = (
    f"^[^\\S{TEXT_REFUSED}]*[^@\\s{TEXT_REFUSED}]+@[^@\\s{TEXT_REFUSED}]+"
    f"\\.[^@\\s{TEXT_REFUSED}]+[^\\S{TEXT_REFUSED}]*$"
)
"""What the email field accepts, as sent: an address as _EMAIL checks it once its surrounding
blanks are dropped, and no control or format character."""
UserId = path_id(ID_PATTERN.pattern)
Name = text_field(max_length=200)
Email = text_field(max_length=254, pattern=EMAIL_PATTERN)
STORE_RETRY_AFTER = "1"


@dataclass(frozen=True)
class Settings:
    table_name: str
    region: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(table_name=env_required(environ, "TABLE_NAME"), region=env_region(environ))


def dynamodb_client(region: str) -> Any:
    """A DynamoDB client; AWS_ENDPOINT_URL_DYNAMODB, when set, points it at a local endpoint."""
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=50,
    )
    return boto3.session.Session().client("dynamodb", region_name=region, config=config)


def instrument_dynamodb(provider: TracerProvider | None = None) -> None:
    """A client span for every DynamoDB call, child of the request's span. botocore is patched
    for the whole process, once: a later call changes nothing."""
    instrumentor = BotocoreInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("not an email address")
        return value


class User(BaseModel):
    id: str
    name: str
    email: str


def create_app(
    settings: Settings, *, dynamodb: Any = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """`tracer_provider`: the global one unless given (tests give their own)."""
    logger = logging.getLogger(SERVICE)
    table = settings.table_name
    client = dynamodb if dynamodb is not None else dynamodb_client(settings.region)
    instrument_dynamodb(tracer_provider)

    # Its internal API's document at GET /openapi.json (docs/openapi/user-service.json).
    app = FastAPI(title=SERVICE, version="1", docs_url=None, redoc_url=None)
    install_error_handlers(app)
    declared_responses_only(app)
    app.add_middleware(RequestContext, logger=logger)
    instrument_app(app, tracer_provider)

    async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else None
        logger.error(
            "the user table is unavailable",
            exc_info=error,
            extra={"fields": {"table": table, "errorCode": code}},
        )
        return error_response(
            503,
            "the user store is unavailable; try again",
            headers={"Retry-After": STORE_RETRY_AFTER},
        )

    app.add_exception_handler(BotoCoreError, store_unavailable)
    app.add_exception_handler(ClientError, store_unavailable)

    @app.get("/health", responses=error_responses(*EVERY_REQUEST))
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/users",
        status_code=201,
        response_model=User,
        responses={
            201: {"headers": {"Location": {"schema": {"type": "string"}, "required": True}}},
            **error_responses(*EVERY_REQUEST, 422, 503),
        },
    )
    def create_user(new: NewUser) -> JSONResponse:
        user = User(id=str(uuid.uuid4()), name=new.name, email=new.email)
        client.put_item(
            TableName=table,
            Item={
                "id": {"S": user.id},
                "name": {"S": user.name},
                "email": {"S": user.email},
                "createdAt": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
            },
            ConditionExpression="attribute_not_exists(id)",
        )
        logger.info("user created", extra={"fields": {"userId": user.id}})
        return JSONResponse(
            user.model_dump(), status_code=201, headers={"Location": f"/users/{user.id}"}
        )

    @app.get(
        "/users/{user_id}",
        response_model=User,
        responses=error_responses(*EVERY_REQUEST, 404, 503),
    )
    def get_user(user_id: UserId) -> Any:
        if not ID_PATTERN.fullmatch(user_id):
            return error_response(404, f"no user {user_id!r}")
        # Strongly consistent: order-service checks a user it may have been told of just now.
        found = client.get_item(
            TableName=table, Key={"id": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        if found is None:
            return error_response(404, f"no user {user_id!r}")
        return User(id=found["id"]["S"], name=found["name"]["S"], email=found["email"]["S"])

    return app
