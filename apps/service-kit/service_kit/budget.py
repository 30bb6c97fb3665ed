"""Time budgets that shrink along the call chain, and retries that stop before one runs out.

The gateway waits `T` for a service and tells it, in the `X-Request-Budget-Ms` header, that it
has `T - HOP_MARGIN_SECONDS`: the service has answered (or given up and said so) before the
gateway stops waiting. A service does the same for what it calls (user-service, DynamoDB): it
waits at most what is left of its own budget less the margin, tells the callee that less the
margin again, and starts an attempt (a retry included) only when a whole attempt fits in what is
left. A request without the header (a direct call) gets the service's default; a budget asked for
is never more than that default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

BUDGET_HEADER = "X-Request-Budget-Ms"
HOP_MARGIN_SECONDS = 0.3
"""What each hop keeps back for itself: answering, and the network between the two."""
MAX_BUDGET_MS = 300_000
RETRY_PAUSE_SECONDS = 0.05
MAX_ATTEMPTS = 4

T = TypeVar("T")
Clock = Callable[[], float]


def downstream_seconds(wait_seconds: float) -> float:
    """What a caller that waits `wait_seconds` tells its callee it has."""
    return max(0.0, wait_seconds - HOP_MARGIN_SECONDS)


def budget_header(seconds: float) -> dict[str, str]:
    return {BUDGET_HEADER: str(max(0, int(seconds * 1000)))}


class Budget:
    """The time a request has left, from when it arrived."""

    def __init__(self, seconds: float, *, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.deadline = clock() + seconds

    @classmethod
    def of(
        cls, headers: Mapping[str, str], default_seconds: float, *, clock: Clock = time.monotonic
    ) -> Budget:
        """The budget a request's header gives, at most `default_seconds`; the default when the
        header is missing or is not a whole number of milliseconds (1 to 300000)."""
        raw = headers.get(BUDGET_HEADER, "").strip()
        seconds = default_seconds
        if raw.isdigit() and 0 < int(raw) <= MAX_BUDGET_MS:
            seconds = min(default_seconds, int(raw) / 1000)
        return cls(seconds, clock=clock)

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def allows(self, seconds: float) -> bool:
        """Whether something that takes up to `seconds` ends before the budget, margin kept."""
        return self.remaining() - HOP_MARGIN_SECONDS >= seconds

    def wait_for(self, configured: float) -> float:
        """How long to wait for a callee whose own limit is `configured`."""
        return max(0.0, min(configured, self.remaining() - HOP_MARGIN_SECONDS))


class OutOfBudgetError(Exception):
    """No attempt could be made, or no retry fits in what is left of the budget. `attempted`:
    an attempt was made whose outcome is unknown (it may have written)."""

    def __init__(self, message: str, *, attempted: bool, last: BaseException | None = None):
        super().__init__(message)
        self.attempted = attempted
        self.last = last


def with_retries(
    call: Callable[[], T],
    budget: Budget,
    *,
    attempt_seconds: float,
    retryable: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> T:
    """`call()`, retried on what `retryable` accepts while a whole attempt (`attempt_seconds`,
    the client's connect and read timeouts) still fits in the budget. Raises what is not
    retryable as it is, and OutOfBudgetError when time or attempts run out."""
    last: BaseException | None = None
    for attempt in range(max_attempts):
        if attempt:
            sleep(min(RETRY_PAUSE_SECONDS * 2 ** (attempt - 1), 0.5))
        if not budget.allows(attempt_seconds):
            break
        try:
            return call()
        except Exception as error:
            if not retryable(error):
                raise
            last = error
    raise OutOfBudgetError(
        f"gave up after {type(last).__name__ if last else 'no attempt'}",
        attempted=last is not None,
        last=last,
    )


# --- DynamoDB's errors, told apart without importing botocore (the gateway has none) -------------

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
_TRANSIENT_ERRORS = frozenset(
    {
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "HTTPClientError",
        "ConnectionError",
    }
)


def error_code(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return (response.get("Error") or {}).get("Code")
    return None


def cancellation_codes(error: BaseException) -> list[str | None]:
    """Per item of a cancelled transaction, why (None: not the cause)."""
    response: Any = getattr(error, "response", None) or {}
    reasons = response.get("CancellationReasons") or []
    return [r.get("Code") if r.get("Code") not in (None, "None") else None for r in reasons]


def dynamodb_retryable(error: BaseException) -> bool:
    """A failure that may pass on a retry: throttling, a server error, a conflicting
    transaction, a timeout or a broken connection."""
    if {cls.__name__ for cls in type(error).__mro__} & _TRANSIENT_ERRORS:
        return True
    code = error_code(error)
    if code == "TransactionCanceledException":
        codes = [c for c in cancellation_codes(error) if c]
        return bool(codes) and all(
            c in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
            for c in codes
        )
    status = (
        (getattr(error, "response", None) or {})
        .get("ResponseMetadata", {})
        .get("HTTPStatusCode", 0)
    )
    return code in _TRANSIENT_CODES or status >= 500
