"""order-service's HTTP API: `POST /orders`, `GET /orders/{id}`, `GET /health`; and, with
EVENTS_QUEUE_URL, its receive loop of user events into its own view of users (events.py).

An order's user is checked against that view: active, the order is taken without calling
user-service; deleted (a tombstone), 422; not heard of, user-service is asked, and if it cannot
answer, 503 with Retry-After, never 201. Every DynamoDB call is one attempt of at most
ATTEMPT_SECONDS, retried within the request's budget (service_kit.budget)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from service_kit import (
    EVERY_REQUEST,
    TEXT_PATTERN,
    Budget,
    OutOfBudgetError,
    RequestContext,
    declared_responses_only,
    dynamodb_retryable,
    env_region,
    env_required,
    env_seconds,
    env_url,
    error_code,
    error_response,
    error_responses,
    install_error_handlers,
    instrument_app,
    outgoing_headers,
    path_id,
    refuse_control_characters,
    text_field,
    with_retries,
)

from .events import WAIT_SECONDS, EventConsumer, sqs_client
from .store import DELETED, KeyTakenError, OrderStore, Replay
from .users import UserDirectory, UserServiceUnavailableError

SERVICE = "order-service"
ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
DEFAULT_USER_SERVICE_TIMEOUT = 2.0
RETRY_AFTER = "1"
MAX_ITEMS = 100
MAX_QUANTITY = 1000
CONNECT_TIMEOUT = 0.3
READ_TIMEOUT = 1.0
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT
DEFAULT_BUDGET_SECONDS = 2.5
"""A request's budget without the gateway's header (service_kit.budget)."""
OrderId = path_id(ID_PATTERN)
Sku = text_field(max_length=64)


@dataclass(frozen=True)
class Settings:
    table_name: str
    region: str
    user_service_url: str
    user_service_timeout: float = DEFAULT_USER_SERVICE_TIMEOUT
    events_queue_url: str | None = None
    events_wait_seconds: int = WAIT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            table_name=env_required(environ, "TABLE_NAME"),
            region=env_region(environ),
            user_service_url=env_url(environ, "USER_SERVICE_URL"),
            user_service_timeout=env_seconds(
                environ, "USER_SERVICE_TIMEOUT_SECONDS", DEFAULT_USER_SERVICE_TIMEOUT
            ),
            events_queue_url=environ.get("EVENTS_QUEUE_URL", "").strip() or None,
            events_wait_seconds=int(
                env_seconds(environ, "EVENTS_WAIT_SECONDS", WAIT_SECONDS) // 1 or 1
            ),
        )


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


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[
        StrictStr, Field(alias="userId", pattern=ID_PATTERN), refuse_control_characters
    ]
    items: Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]


class Order(BaseModel):
    id: str
    userId: str  # noqa: N815 - the API's field name
    items: list[Item]
    status: str


def fingerprint(new: NewOrder) -> str:
    """What identifies a request, for telling a retry from a different request with a reused
    idempotency key."""
    canonical = json.dumps(
        {"userId": new.user_id, "items": [i.model_dump() for i in new.items]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_app(
    settings: Settings,
    *,
    dynamodb: Any = None,
    user_transport: httpx.AsyncBaseTransport | None = None,
    tracer_provider: TracerProvider | None = None,
    sqs: Any = None,
) -> FastAPI:
    """`tracer_provider`: the global one unless given (tests give their own); `sqs`: the
    events queue's client (default: boto3's, when EVENTS_QUEUE_URL is set)."""
    logger = logging.getLogger(SERVICE)
    store = OrderStore(
        dynamodb if dynamodb is not None else dynamodb_client(settings.region),
        settings.table_name,
    )
    consumer = None
    if settings.events_queue_url is not None:
        consumer = EventConsumer(
            sqs if sqs is not None else sqs_client(settings.region, settings.events_wait_seconds),
            settings.events_queue_url,
            store,
            logger,
            wait_seconds=settings.events_wait_seconds,
            tracer_provider=tracer_provider,
        )
    instrument_dynamodb(tracer_provider)
    users = UserDirectory(
        settings.user_service_url,
        settings.user_service_timeout,
        transport=user_transport,
        tracer_provider=tracer_provider,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if consumer is not None:
            consumer.start()
        yield
        if consumer is not None:
            consumer.stop()
        await users.aclose()

    # Its internal API's document at GET /openapi.json (docs/openapi/order-service.json).
    app = FastAPI(title=SERVICE, version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    install_error_handlers(app)
    declared_responses_only(app)
    app.add_middleware(RequestContext, logger=logger)
    instrument_app(app, tracer_provider)

    async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
        cause = error.last if isinstance(error, OutOfBudgetError) and error.last else error
        logger.error(
            "the order table is unavailable",
            exc_info=cause,
            extra={"fields": {"table": settings.table_name, "errorCode": error_code(cause)}},
        )
        return error_response(
            503,
            "the order store is unavailable; no order was created; try again",
            headers={"Retry-After": RETRY_AFTER},
        )

    app.add_exception_handler(BotoCoreError, store_unavailable)
    app.add_exception_handler(ClientError, store_unavailable)
    app.add_exception_handler(OutOfBudgetError, store_unavailable)
    app.state.events = consumer

    def retrying(budget: Budget) -> Any:
        def call(operation: Any) -> Any:
            return with_retries(
                operation, budget, attempt_seconds=ATTEMPT_SECONDS, retryable=dynamodb_retryable
            )

        return call

    def created(order: dict[str, Any], *, replayed: bool) -> JSONResponse:
        headers = {"Location": f"/orders/{order['id']}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(order, status_code=201, headers=headers)

    def replay(first: Replay, request_fingerprint: str) -> JSONResponse:
        if first.fingerprint != request_fingerprint:
            return error_response(
                422,
                "header Idempotency-Key: already used for a different request",
                fields=[{"field": "header Idempotency-Key", "message": "already used"}],
            )
        logger.info("order replayed", extra={"fields": {"orderId": first.order["id"]}})
        return created(first.order, replayed=True)

    @app.get("/health", responses=error_responses(*EVERY_REQUEST))
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/orders",
        status_code=201,
        response_model=Order,
        responses={
            201: {
                "headers": {
                    "Location": {"schema": {"type": "string"}, "required": True},
                    "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}},
                }
            },
            **error_responses(*EVERY_REQUEST, 422, 503),
        },
    )
    async def create_order(
        new: NewOrder,
        request: Request,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                json_schema_extra={"pattern": TEXT_PATTERN},
            ),
            refuse_control_characters,
        ] = None,
    ) -> JSONResponse:
        request_fingerprint = fingerprint(new)
        budget = Budget.of(request.headers, DEFAULT_BUDGET_SECONDS)
        call = retrying(budget)
        if idempotency_key is not None:
            first = await run_in_threadpool(store.replay, idempotency_key, call)
            if first is not None:
                return replay(first, request_fingerprint)
        state = await run_in_threadpool(store.user_state, new.user_id, call)
        if state == DELETED:
            return error_response(
                422,
                f"userId: user {new.user_id!r} was deleted",
                fields=[{"field": "userId", "message": "deleted"}],
            )
        if state is None:  # no event of this user yet: ask user-service
            try:
                known = await users.exists(new.user_id, outgoing_headers(request), budget)
            except UserServiceUnavailableError as error:
                logger.warning(
                    "user-service unavailable; no order created",
                    extra={"fields": {"userId": new.user_id, "error": str(error)}},
                )
                return error_response(
                    503,
                    "user-service is unavailable, so the order was not created; try again",
                    headers={"Retry-After": RETRY_AFTER},
                )
            if not known:
                return error_response(
                    422,
                    f"userId: no user {new.user_id!r}",
                    fields=[{"field": "userId", "message": "no such user"}],
                )
        order = {
            "id": str(uuid.uuid4()),
            "userId": new.user_id,
            "items": [i.model_dump() for i in new.items],
            "status": "created",
        }
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            await run_in_threadpool(
                store.create, order, created_at, idempotency_key, request_fingerprint, call
            )
        except KeyTakenError:
            assert idempotency_key is not None
            first = await run_in_threadpool(store.replay, idempotency_key, call)
            assert first is not None
            return replay(first, request_fingerprint)
        except OutOfBudgetError as error:
            if not error.attempted:
                raise
            logger.error(
                "the order table did not answer in time; the order may have been created",
                exc_info=error.last,
                extra={"fields": {"orderId": order["id"]}},
            )
            return error_response(
                503,
                "the order store did not answer in time; the order may have been created; "
                "retry with the same Idempotency-Key",
                headers={"Retry-After": RETRY_AFTER},
            )
        logger.info("order created", extra={"fields": {"orderId": order["id"]}})
        return created(order, replayed=False)

    @app.get(
        "/orders/{order_id}",
        response_model=Order,
        responses=error_responses(*EVERY_REQUEST, 404, 503),
    )
    async def get_order(order_id: OrderId, request: Request) -> Any:
        if not re.fullmatch(ID_PATTERN, order_id):
            return error_response(404, f"no order {order_id!r}")
        call = retrying(Budget.of(request.headers, DEFAULT_BUDGET_SECONDS))
        order = await run_in_threadpool(store.get_order, order_id, call)
        if order is None:
            return error_response(404, f"no order {order_id!r}")
        return order

    return app
