"""Time budgets along the call chain and the retries within them (service_kit.budget)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from service_kit import (
    BUDGET_HEADER,
    HOP_MARGIN_SECONDS,
    Budget,
    OutOfBudgetError,
    budget_header,
    downstream_seconds,
    dynamodb_retryable,
    with_retries,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def client_error(code: str, status: int = 400, reasons: list[Any] | None = None) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "PutItem")  # type: ignore[arg-type]


def timeout() -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url="http://dynamodb")


def test_a_header_sets_the_budget_but_never_above_the_default() -> None:
    clock = Clock()
    assert Budget.of({BUDGET_HEADER: "1200"}, 2.5, clock=clock).remaining() == pytest.approx(1.2)
    assert Budget.of({BUDGET_HEADER: "9000"}, 2.5, clock=clock).remaining() == 2.5
    for bad in ("", "-5", "1.5", "abc", "0", "300001"):
        assert Budget.of({BUDGET_HEADER: bad}, 2.5, clock=clock).remaining() == 2.5


def test_each_hop_passes_on_less_than_it_waits() -> None:
    assert downstream_seconds(3.0) == pytest.approx(3.0 - HOP_MARGIN_SECONDS)
    assert budget_header(downstream_seconds(3.0)) == {BUDGET_HEADER: "2700"}
    assert downstream_seconds(0.1) == 0.0
    clock = Clock()
    budget = Budget(2.0, clock=clock)
    clock.now += 0.5
    # What is left, less the margin, and never more than the callee's own limit.
    assert budget.wait_for(5.0) == pytest.approx(1.5 - HOP_MARGIN_SECONDS)
    assert budget.wait_for(1.0) == 1.0
    clock.now += 10
    assert budget.wait_for(1.0) == 0.0


def test_retries_stop_before_the_budget_runs_out() -> None:
    clock = Clock()
    budget = Budget(2.5, clock=clock)
    calls = []

    def slow_failure() -> None:
        calls.append(clock.now)
        clock.now += 1.3  # a whole attempt: connect and read timeouts
        raise timeout()

    with pytest.raises(OutOfBudgetError) as raised:
        with_retries(
            slow_failure,
            budget,
            attempt_seconds=1.3,
            retryable=dynamodb_retryable,
            sleep=clock.sleep,
        )
    assert len(calls) == 1  # a second attempt would end past the budget
    assert raised.value.attempted  # its outcome is unknown: it may have written
    assert clock.now - 100.0 <= 2.5


def test_a_transient_failure_is_retried_within_the_budget() -> None:
    clock = Clock()
    answers: list[Any] = [client_error("ThrottlingException"), timeout(), "ok"]

    def call() -> Any:
        clock.now += 0.1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = with_retries(
        call,
        Budget(2.5, clock=clock),
        attempt_seconds=1.3,
        retryable=dynamodb_retryable,
        sleep=clock.sleep,
    )
    assert result == "ok"


def test_no_attempt_when_none_fits() -> None:
    clock = Clock()
    with pytest.raises(OutOfBudgetError) as raised:
        with_retries(
            lambda: "never",
            Budget(1.0, clock=clock),
            attempt_seconds=1.3,
            retryable=dynamodb_retryable,
            sleep=clock.sleep,
        )
    assert not raised.value.attempted


def test_a_condition_failure_is_not_retried() -> None:
    clock = Clock()
    calls = []

    def call() -> None:
        calls.append(1)
        raise client_error("ConditionalCheckFailedException")

    with pytest.raises(ClientError):
        with_retries(
            call,
            Budget(2.5, clock=clock),
            attempt_seconds=1.3,
            retryable=dynamodb_retryable,
            sleep=clock.sleep,
        )
    assert calls == [1]


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error("ThrottlingException"), True),
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("InternalServerError", 500), True),
        (client_error("ValidationException"), False),
        (client_error("ConditionalCheckFailedException"), False),
        (
            client_error("TransactionCanceledException", reasons=[{"Code": "TransactionConflict"}]),
            True,
        ),
        (
            client_error(
                "TransactionCanceledException",
                reasons=[{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
            ),
            False,
        ),
        (timeout(), True),
    ],
)
def test_which_dynamodb_failures_are_retried(error: Exception, retryable: bool) -> None:
    assert dynamodb_retryable(error) is retryable
