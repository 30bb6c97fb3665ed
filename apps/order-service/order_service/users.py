"""The check of a user against user-service, for a user order-service has had no event of;
bounded by USER_SERVICE_TIMEOUT_SECONDS and by what is left of the request's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import quote

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import TracerProvider

from service_kit import Budget, budget_header, downstream_seconds


class UserServiceUnavailableError(Exception):
    """user-service did not answer in time, could not be reached, or failed."""


class UserDirectory:
    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            # Idle connections close well before user-service's 65 s keep-alive ends them.
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
            ),
            transport=transport,
        )
        # A client span per call, whose W3C `traceparent` goes with the request.
        HTTPXClientInstrumentor.instrument_client(self.client, tracer_provider=tracer_provider)

    async def exists(
        self, user_id: str, headers: Mapping[str, str], budget: Budget | None = None
    ) -> bool:
        """True for 200, False for 404; UserServiceUnavailableError for anything else, or for no
        answer within the timeout (the whole exchange, connecting included), which is at most
        what is left of `budget`; user-service is told it has that less a margin."""
        wait = budget.wait_for(self.timeout) if budget is not None else self.timeout
        if wait <= 0:
            raise UserServiceUnavailableError("no time left in the request's budget")
        url = f"{self.base_url}/users/{quote(user_id, safe='')}"
        sent = {**headers, **budget_header(downstream_seconds(wait))}
        try:
            response = await asyncio.wait_for(
                self.client.get(url, headers=sent, timeout=wait), wait
            )
        except (TimeoutError, httpx.TimeoutException) as error:
            raise UserServiceUnavailableError(f"no answer within {wait:g} s") from error
        except httpx.HTTPError as error:
            raise UserServiceUnavailableError(f"{type(error).__name__}: {error}") from error
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise UserServiceUnavailableError(f"user-service answered {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()
