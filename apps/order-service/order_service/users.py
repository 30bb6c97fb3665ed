"""The check of a user against user-service, bounded by USER_SERVICE_TIMEOUT_SECONDS."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import quote

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import TracerProvider


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

    async def exists(self, user_id: str, headers: Mapping[str, str]) -> bool:
        """True for 200, False for 404; UserServiceUnavailableError for anything else, or for no
        answer within the timeout (the whole exchange, connecting included)."""
        url = f"{self.base_url}/users/{quote(user_id, safe='')}"
        try:
            response = await asyncio.wait_for(
                self.client.get(url, headers=dict(headers)), self.timeout
            )
        except (TimeoutError, httpx.TimeoutException) as error:
            raise UserServiceUnavailableError(f"no answer within {self.timeout:g} s") from error
        except httpx.HTTPError as error:
            raise UserServiceUnavailableError(f"{type(error).__name__}: {error}") from error
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise UserServiceUnavailableError(f"user-service answered {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()
