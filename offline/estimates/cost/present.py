"""An estimate for people and programs: the text `python -m offline cost` prints and its JSON
document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from offline.estimates.cost.model import (
    CURRENCY,
    HOURS_PER_MONTH,
    SCHEMA_VERSION,
    Estimate,
    Range,
    usd,
)
from offline.text import table_lines


def signed_usd(amount: float) -> str:
    sign = "+" if amount > 0.005 else "-" if amount < -0.005 else "±"
    return f"{sign}${abs(amount):,.2f}"


def show_range(value: Range, show: Any = usd) -> str:
    if round(value.low, 2) == round(value.high, 2):
        return show(value.low)
    return f"{show(value.low)}..{show(value.high)}"


def _quantity(value: float) -> str:
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _assumption_text(estimate: Estimate, keys: Iterable[str]) -> str:
    return ", ".join(f"{key}={_number(estimate.assumptions[key].value)}" for key in keys)


def summary_line(estimate: Estimate) -> str:
    """The one line the preview prints."""
    not_priced = sum(1 for line in estimate.lines if not line.priced)
    unpriced = f"; {not_priced} lines not priced" if not_priced else ""
    return (
        f"Estimated monthly cost: {show_range(estimate.total)} {CURRENCY} (low: autoscaled "
        f"services at their minimum, high: at their maximum; {HOURS_PER_MONTH} hours a month; "
        f"prices as of {estimate.prices_as_of}{unpriced}; `python -m offline cost --stack "
        f"{estimate.stack}` for the lines)"
    )


def to_text(estimate: Estimate) -> str:
    header = ("category", "resource", "item", "quantity", "unit price", "monthly", "assumes")
    rows = []
    for line in estimate.lines:
        price = line.price
        rows.append(
            (
                line.category,
                line.resource,
                line.item,
                f"{show_range(line.quantity, _quantity)} {price.unit}".strip(),
                f"${price.usd:g}" if price.usd is not None else "not priced",
                show_range(line.monthly) if line.priced else "-",
                _assumption_text(estimate, line.assumptions) or "-",
            )
        )
    lines = [
        f"Estimated monthly cost of stack '{estimate.stack}' ({estimate.region}, {CURRENCY}, "
        f"{HOURS_PER_MONTH} hours a month, prices as of {estimate.prices_as_of})",
        "low: every autoscaled service at its minimum, fixed services at their count; "
        "high: every autoscaled service at its maximum",
        "",
        *table_lines(header, rows),
        "",
        f" Total: {show_range(estimate.total)} a month",
    ]
    not_priced = [line for line in estimate.lines if not line.priced]
    if not_priced:
        lines += ["", "Not priced (left out of the total):"]
        lines += [
            f"    {line.category} {line.resource}: {line.item}: not priced: {line.price.not_priced}"
            for line in not_priced
        ]
    lines += [
        "",
        "Assumptions (offline/estimates/cost/cost_assumptions.yaml; a stack overrides them under "
        "cost.*):",
    ]
    for key in estimate.used():
        assumption = estimate.assumptions[key]
        origin = " (stack config)" if assumption.origin == "stack config" else ""
        lines.append(
            f"    {key} = {_number(assumption.value)} {assumption.unit}{origin}: "
            f"{assumption.description}"
        )
    lines += [
        "",
        f"Prices: offline/estimates/cost/prices/{estimate.prices_path.name}, each with its AWS "
        "pricing page and the day it was read. Free tiers, savings plans, data transfer out and "
        "taxes are left out.",
    ]
    return "\n".join(lines) + "\n"


def to_document(estimate: Estimate) -> dict[str, Any]:
    total = estimate.total
    return {
        "schemaVersion": SCHEMA_VERSION,
        "currency": CURRENCY,
        "total": {"low": round(total.low, 2), "high": round(total.high, 2)},
        "lines": [
            {
                "category": line.category,
                "resource": line.resource,
                "item": line.item,
                "unit": line.price.unit,
                "quantity": {"low": line.quantity.low, "high": line.quantity.high},
                "unitPrice": line.price.usd,
                "monthly": (
                    {"low": round(line.monthly.low, 2), "high": round(line.monthly.high, 2)}
                    if line.priced
                    else None
                ),
                "price": line.price.key,
                "source": line.price.source or None,
                "read": line.price.read or None,
                "notPriced": line.price.not_priced if not line.priced else None,
                "assumptions": list(line.assumptions),
            }
            for line in estimate.lines
        ],
        "assumptions": {
            key: {
                "value": assumption.value,
                "unit": assumption.unit,
                "description": assumption.description,
                "from": assumption.origin,
            }
            for key, assumption in estimate.assumptions.items()
        },
        "pricesAsOf": estimate.prices_as_of,
    }


def dumps(estimate: Estimate) -> str:
    return json.dumps(to_document(estimate), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
