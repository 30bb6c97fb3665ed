"""What an estimate is made of: ranges, prices, assumptions, cost lines and the estimate, with
the month and the load balancer and WAF units the lines are computed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1


HOURS_PER_MONTH = 730
"""The month of the AWS Pricing Calculator: "730 hours in a month, (365 days in a year x 24
hours in a day / 12 months in year)" (https://aws.amazon.com/calculator/calculator-assumptions/)."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
CURRENCY = "USD"

# An LCU, per the ELB pricing page (https://aws.amazon.com/elasticloadbalancing/pricing/):
# 25 new connections a second, 3,000 active connections a minute, 1 GB an hour for containers
# and IP targets, 1,000 rule evaluations a second, the first 10 rules processed being free.
LCU_NEW_CONNECTIONS_PER_SECOND = 25
LCU_ACTIVE_CONNECTIONS = 3000
LCU_GB_PER_HOUR = 1
LCU_RULE_EVALUATIONS_PER_SECOND = 1000
FREE_RULES = 10
# AWS managed rule groups that carry a subscription fee on top of the rule charge (AWS WAF
# pricing page: Bot Control, Fraud Control account takeover and account creation).
PAID_RULE_GROUPS = frozenset(
    {"AWSManagedRulesBotControlRuleSet", "AWSManagedRulesATPRuleSet", "AWSManagedRulesACFPRuleSet"}
)
SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
"""The OpenTelemetry variable that carries a ratio sampler's ratio."""


class CostError(Exception):
    """A stack that cannot be priced: no price file for its region, or no region."""


@dataclass(frozen=True)
class Range:
    low: float
    high: float

    @classmethod
    def fixed(cls, value: float) -> Range:
        return cls(value, value)

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.high + other.high)

    def __sub__(self, other: Range) -> Range:
        return Range(self.low - other.low, self.high - other.high)

    def scale(self, factor: float) -> Range:
        return Range(self.low * factor, self.high * factor)


ZERO = Range(0.0, 0.0)


@dataclass(frozen=True, kw_only=True)
class Price:
    key: str
    usd: float | None
    unit: str
    source: str
    read: str
    not_priced: str | None = None


@dataclass(frozen=True, kw_only=True)
class PriceBook:
    region: str
    path: Path
    prices: Mapping[str, Price]

    def get(self, key: str) -> Price:
        if key not in self.prices:
            return Price(
                key=key,
                usd=None,
                unit="",
                source="",
                read="",
                not_priced=f"{self.path.name} has no price {key}",
            )
        return self.prices[key]


@dataclass(frozen=True, kw_only=True)
class Assumption:
    key: str
    value: float
    unit: str
    description: str
    origin: str
    """`default` (the assumptions file) or `stack config`."""


@dataclass(frozen=True, kw_only=True)
class CostLine:
    category: str
    resource: str
    item: str
    quantity: Range
    price: Price
    assumptions: tuple[str, ...] = ()

    @property
    def priced(self) -> bool:
        return self.price.usd is not None

    @property
    def monthly(self) -> Range:
        return self.quantity.scale(self.price.usd) if self.price.usd is not None else ZERO


@dataclass(frozen=True, kw_only=True)
class Estimate:
    stack: str
    region: str
    lines: tuple[CostLine, ...]
    assumptions: Mapping[str, Assumption]
    prices_path: Path

    @property
    def total(self) -> Range:
        total = ZERO
        for line in self.lines:
            total = total + line.monthly
        return total

    @property
    def prices_as_of(self) -> str:
        """The oldest read date among the prices the estimate uses."""
        dates = [line.price.read for line in self.lines if line.priced and line.price.read]
        return min(dates) if dates else ""

    def used(self) -> list[str]:
        """The assumptions some line depends on, in the file's order."""
        keys = {key for line in self.lines for key in line.assumptions}
        return [key for key in self.assumptions if key in keys]


def usd(amount: float) -> str:
    return f"${amount:,.2f}"
