"""A small IAM policy evaluator: is one request allowed by a role's identity policies?

It follows AWS's evaluation logic for identity-based policies within one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, then any Allow, else the request is implicitly denied. A statement
matches when its Action (or NotAction), its Resource (or NotResource) and every one of its
conditions match. Actions match case-insensitively with `*` and `?` wildcards; resources
case-sensitively with the same wildcards
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
Conditions: the operators this program's documents use (StringEquals, StringLike, ArnEquals,
ArnLike, and their Not forms); an operator it does not know is an error, never a match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allowed", "explicitly denied", "implicitly denied"]


@dataclass(frozen=True, kw_only=True)
class Request:
    action: str
    """`service:Action`, e.g. `dynamodb:PutItem`."""
    resource: str
    """The resource's ARN."""
    context: Mapping[str, str] = field(default_factory=dict)
    """Condition keys the request carries, e.g. `kms:ViaService`."""

    def __str__(self) -> str:
        context = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({context})" if context else "")


class UnknownConditionError(ValueError):
    """A condition operator this evaluator does not implement."""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def _wildcard(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    # fnmatch's translation, with `[` taken literally as IAM does.
    translated = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.compile(translated, 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_wildcard(pattern, case_sensitive=case_sensitive).match(value))


def _condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, str]) -> bool:
    negated = operator.startswith("StringNot") or operator.startswith("ArnNot")
    base = operator.replace("Not", "", 1) if negated else operator
    if base not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
        raise UnknownConditionError(f"condition operator {operator} is not implemented")
    value = context.get(key)
    if value is None:
        # A missing key makes a positive operator false and a negated one true.
        return negated
    if base == "StringEquals":
        found = any(value == w for w in _as_list(wanted))
    else:  # StringLike, ArnEquals and ArnLike all take wildcards
        found = any(matches(str(w), value) for w in _as_list(wanted))
    return not found if negated else found


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        action_match = any(
            matches(str(a), request.action, case_sensitive=False)
            for a in _as_list(statement["Action"])
        )
    else:
        action_match = not any(
            matches(str(a), request.action, case_sensitive=False)
            for a in _as_list(statement.get("NotAction"))
        )
    if not action_match:
        return False
    if "Resource" in statement:
        resource_match = any(
            matches(str(r), request.resource) for r in _as_list(statement["Resource"])
        )
    else:
        resource_match = not any(
            matches(str(r), request.resource) for r in _as_list(statement.get("NotResource"))
        )
    if not resource_match:
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key, wanted, request.context):
                return False
    return True


def statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for document in documents for s in _as_list(document.get("Statement"))]


def decide(documents: Sequence[Mapping[str, Any]], request: Request) -> Decision:
    """What AWS decides for `request` under these identity policies (no boundary, no SCP)."""
    found = [s for s in statements(documents) if _statement_matches(s, request)]
    if any(s.get("Effect") == "Deny" for s in found):
        return "explicitly denied"
    if any(s.get("Effect") == "Allow" for s in found):
        return "allowed"
    return "implicitly denied"
