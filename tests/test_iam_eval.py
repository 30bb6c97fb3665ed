"""The IAM evaluator the end-to-end run judges the applications' AWS calls with."""

from __future__ import annotations

import pytest

from tests.iam_eval import Request, UnknownConditionError, decide

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/users"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234"


def allow(action: object, resource: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_an_action_no_statement_allows_is_implicitly_denied() -> None:
    documents = [policy(allow(["dynamodb:GetItem"], TABLE))]
    assert decide(documents, Request(action="dynamodb:GetItem", resource=TABLE)) == "allowed"
    assert (
        decide(documents, Request(action="dynamodb:PutItem", resource=TABLE)) == "implicitly denied"
    )
    assert decide([], Request(action="dynamodb:GetItem", resource=TABLE)) == "implicitly denied"


def test_actions_match_with_wildcards_and_any_case() -> None:
    documents = [policy(allow("kms:GenerateDataKey*", KEY), allow("dynamodb:Get?tem", TABLE))]
    for action in ("kms:GenerateDataKey", "kms:generatedatakeywithoutplaintext"):
        assert decide(documents, Request(action=action, resource=KEY)) == "allowed"
    assert decide(documents, Request(action="dynamodb:GetItem", resource=TABLE)) == "allowed"
    assert decide(documents, Request(action="kms:Decrypt", resource=KEY)) == "implicitly denied"


def test_resources_match_exactly_or_by_wildcard_and_case_sensitively() -> None:
    documents = [policy(allow("dynamodb:Query", f"{TABLE}/index/*"))]
    assert (
        decide(documents, Request(action="dynamodb:Query", resource=f"{TABLE}/index/byEmail"))
        == "allowed"
    )
    assert (
        decide(documents, Request(action="dynamodb:Query", resource=TABLE)) == "implicitly denied"
    )
    upper = TABLE.replace("users", "USERS")
    assert (
        decide(
            [policy(allow("dynamodb:Query", TABLE))],
            Request(action="dynamodb:Query", resource=upper),
        )
        == "implicitly denied"
    )


def test_an_explicit_deny_wins_over_any_allow() -> None:
    documents = [
        policy(allow("dynamodb:*", "*")),
        policy({"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE}),
    ]
    assert (
        decide(documents, Request(action="dynamodb:DeleteItem", resource=TABLE))
        == "explicitly denied"
    )
    assert decide(documents, Request(action="dynamodb:PutItem", resource=TABLE)) == "allowed"


def test_not_action_and_not_resource() -> None:
    documents = [
        policy({"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "NotResource": KEY})
    ]
    assert decide(documents, Request(action="dynamodb:PutItem", resource=TABLE)) == "allowed"
    assert (
        decide(documents, Request(action="dynamodb:DeleteItem", resource=TABLE))
        == "implicitly denied"
    )
    assert (
        decide(documents, Request(action="dynamodb:PutItem", resource=KEY)) == "implicitly denied"
    )


def test_conditions_must_all_hold_and_a_missing_key_fails_them() -> None:
    via = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
    documents = [policy(allow(["kms:Decrypt"], KEY, Condition=via))]
    through_dynamodb = Request(
        action="kms:Decrypt",
        resource=KEY,
        context={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"},
    )
    assert decide(documents, through_dynamodb) == "allowed"
    other_region = Request(
        action="kms:Decrypt",
        resource=KEY,
        context={"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"},
    )
    assert decide(documents, other_region) == "implicitly denied"
    # Called directly, not through DynamoDB: the key is not in the request, so no match.
    assert decide(documents, Request(action="kms:Decrypt", resource=KEY)) == "implicitly denied"
    like = [
        policy(
            allow("kms:Decrypt", KEY, Condition={"StringLike": {"kms:ViaService": "dynamodb.*"}})
        )
    ]
    assert decide(like, other_region) == "allowed"
    unless = [
        policy(
            allow(
                "kms:Decrypt",
                KEY,
                Condition={"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
            )
        )
    ]
    assert decide(unless, Request(action="kms:Decrypt", resource=KEY)) == "allowed"
    arn = [
        policy(
            allow(
                "kms:Decrypt",
                KEY,
                Condition={"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}},
            )
        )
    ]
    assert (
        decide(
            arn,
            Request(
                action="kms:Decrypt",
                resource=KEY,
                context={"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:alerts"},
            ),
        )
        == "allowed"
    )


def test_an_unknown_condition_operator_is_an_error_not_a_match() -> None:
    documents = [policy(allow("kms:Decrypt", KEY, Condition={"NumericLessThan": {"kms:x": "1"}}))]
    with pytest.raises(UnknownConditionError, match="NumericLessThan"):
        decide(documents, Request(action="kms:Decrypt", resource=KEY))
