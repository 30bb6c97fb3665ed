"""Which listener rules can never match: ALB evaluates rules lowest priority number first, and
a request goes to the first rule whose conditions all match.

Patterns are ALB's: `*` matches any run of characters, `?` exactly one. Path patterns are
case sensitive, host patterns are not. A rule's condition matches when any of its values
matches, and a rule without a condition of a kind matches every request in that respect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, kw_only=True)
class Rule:
    service: str
    priority: int
    path_patterns: tuple[str, ...] = ()
    host_patterns: tuple[str, ...] = ()


def pattern_covers(general: str, specific: str) -> bool:
    """Whether every string `specific` matches is also matched by `general`.

    `specific`'s wildcards are matched as symbols: its `*` only by a `*` of `general`, its `?`
    by a `?` or a `*`. That is exact for these patterns: a `*` of `specific` stands for
    strings of any length, which only a `*` can match; a `?` for any one character.
    """

    @cache
    def covers(g: int, s: int) -> bool:
        if g == len(general):
            return s == len(specific)
        if general[g] == "*":
            # The star takes nothing, or one more symbol of `specific`.
            return covers(g + 1, s) or (s < len(specific) and covers(g, s + 1))
        if s == len(specific):
            return False
        if general[g] == "?":
            return specific[s] != "*" and covers(g + 1, s + 1)
        return general[g] == specific[s] and covers(g + 1, s + 1)

    return covers(0, 0)


def _condition_covers(general: Sequence[str], specific: Sequence[str]) -> bool:
    """Whether a condition with the `general` values matches every request the `specific`
    condition matches. No values: the rule has no such condition, so it matches anything."""
    if not general:
        return True
    if not specific:
        return False
    return all(any(pattern_covers(g, s) for g in general) for s in specific)


def rule_covers(general: Rule, specific: Rule) -> bool:
    return _condition_covers(general.path_patterns, specific.path_patterns) and _condition_covers(
        [h.lower() for h in general.host_patterns], [h.lower() for h in specific.host_patterns]
    )


def shadowed_rules(rules: Sequence[Rule]) -> list[tuple[Rule, Rule]]:
    """(shadowed, by) for every rule that a rule evaluated before it always wins over."""
    ordered = sorted(rules, key=lambda rule: rule.priority)
    found = []
    for index, rule in enumerate(ordered):
        # Equal priorities are refused on their own account.
        winner = next(
            (
                earlier
                for earlier in ordered[:index]
                if earlier.priority < rule.priority and rule_covers(earlier, rule)
            ),
            None,
        )
        if winner is not None:
            found.append((rule, winner))
    return found
