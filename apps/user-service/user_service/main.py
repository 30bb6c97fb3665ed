"""user-service's HTTP API: `POST /users`, `GET /users/{id}`, `DELETE /users/{id}`,
`GET /health`.

Every DynamoDB call is one attempt of at most ATTEMPT_SECONDS (the client's connect and read
timeouts, no retry of botocore's), retried by the service while a whole attempt fits in the
request's budget (service_kit.budget). The service publishes nothing itself: user.created and
user.deleted come from its table's stream (docs/events.md)."""

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
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel, ConfigDict, field_validator

from service_kit import (
    EVERY_REQUEST,
    TEXT_REFUSED,
    Budget,
    OutOfBudgetError,
    RequestContext,
    declared_responses_only,
    dynamodb_retryable,
    env_region,
    env_required,
    error_code,
    error_response,
    error_responses,
    install_error_handlers,
    instrument_app,
    path_id,
    text_field,
    with_retries,
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
CONNECT_TIMEOUT = 0.3
READ_TIMEOUT = 1.0
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT
DEFAULT_BUDGET_SECONDS = 2.5
"""A request's budget without the gateway's header (service_kit.budget)."""


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
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # One attempt per call: the service retries within the request's budget.
        retries={"mode": "standard", "total_max_attempts": 1},
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

    def unavailable(error: BaseException, message: str) -> JSONResponse:
        cause = error.last if isinstance(error, OutOfBudgetError) and error.last else error
        logger.error(
            "the user table is unavailable",
            exc_info=cause,
            extra={"fields": {"table": table, "errorCode": error_code(cause)}},
        )
        return error_response(503, message, headers={"Retry-After": STORE_RETRY_AFTER})

    async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
        return unavailable(error, "the user store is unavailable; nothing was changed; try again")

    app.add_exception_handler(BotoCoreError, store_unavailable)
    app.add_exception_handler(ClientError, store_unavailable)
    app.add_exception_handler(OutOfBudgetError, store_unavailable)

    def call(request: Request, operation: Any) -> Any:
        budget = Budget.of(request.headers, DEFAULT_BUDGET_SECONDS)
        return with_retries(
            operation, budget, attempt_seconds=ATTEMPT_SECONDS, retryable=dynamodb_retryable
        )

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
    def create_user(new: NewUser, request: Request) -> JSONResponse:
        user = User(id=str(uuid.uuid4()), name=new.name, email=new.email)
        item = {
            "id": {"S": user.id},
            "name": {"S": user.name},
            "email": {"S": user.email},
            "createdAt": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
        }
        try:
            call(
                request,
                lambda: client.put_item(
                    TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)"
                ),
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # The id is the one just generated: only this request's earlier attempt, whose
            # answer was lost, can have written it. The user exists; this is that user.
            logger.info("user already written", extra={"fields": {"userId": user.id}})
        except OutOfBudgetError as error:
            if not error.attempted:
                raise
            return unavailable(
                error,
                "the user store did not answer in time; the user may have been created; "
                "look it up before creating it again",
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
    def get_user(user_id: UserId, request: Request) -> Any:
        if not ID_PATTERN.fullmatch(user_id):
            return error_response(404, f"no user {user_id!r}")
        # Strongly consistent: order-service checks a user it may have been told of just now.
        found = call(
            request,
            lambda: client.get_item(
                TableName=table, Key={"id": {"S": user_id}}, ConsistentRead=True
            ),
        ).get("Item")
        if found is None:
            return error_response(404, f"no user {user_id!r}")
        return User(id=found["id"]["S"], name=found["name"]["S"], email=found["email"]["S"])

    @app.delete(
        "/users/{user_id}",
        status_code=204,
        responses=error_responses(*EVERY_REQUEST, 404, 503),
    )
    def delete_user(user_id: UserId, request: Request) -> Response:
        """The user's item is removed; its stream's REMOVE record becomes user.deleted."""
        if not ID_PATTERN.fullmatch(user_id):
            return error_response(404, f"no user {user_id!r}")
        attempts = 0

        def delete() -> Any:
            nonlocal attempts
            attempts += 1
            return client.delete_item(
                TableName=table,
                Key={"id": {"S": user_id}},
                ConditionExpression="attribute_exists(id)",
            )

        try:
            call(request, delete)
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            if attempts == 1:
                return error_response(404, f"no user {user_id!r}")
            # A retry after an attempt whose answer was lost: that attempt deleted it.
        except OutOfBudgetError as error:
            if not error.attempted:
                raise
            return unavailable(
                error,
                "the user store did not answer in time; the user may have been deleted; "
                "try again (a user already deleted answers 404)",
            )
        logger.info("user deleted", extra={"fields": {"userId": user_id}})
        return Response(status_code=204)

    return app
