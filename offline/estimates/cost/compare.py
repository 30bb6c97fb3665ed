"""The change in cost between two renderings, as the diff shows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from offline.estimates.cost.lines import estimate
from offline.estimates.cost.model import ZERO, CostError, Estimate, Range
from offline.estimates.cost.present import show_range, signed_usd
from offline.render.harness import Rendering


@dataclass(frozen=True, kw_only=True)
class UnpricedCategory:
    base: Range
    head: Range
    """The priced lines' totals."""
    base_items: tuple[str, ...]
    head_items: tuple[str, ...]
    """`item (why it is not priced)` of each line a side cannot price."""
    base_priced: bool
    head_priced: bool
    """Whether a side prices any line of the category."""

    @property
    def comparable(self) -> bool:
        """Neither side is wholly unpriced where it has items."""
        return (self.base_priced or not self.base_items) and (
            self.head_priced or not self.head_items
        )


@dataclass(frozen=True, kw_only=True)
class CostChange:
    base: Range | None
    head: Range | None
    by_category: Mapping[str, Range] = field(default_factory=dict)
    """Head minus base, per category that changed."""
    error: str | None = None
    """Why one side could not be priced."""
    not_priced: Mapping[str, int] = field(default_factory=dict)
    """Lines left out of each side's total (`base`, `head`)."""
    unpriced: Mapping[str, UnpricedCategory] = field(default_factory=dict)
    """The categories that changed where a side has items it cannot price. Where a side
    prices none of its items, the difference is not a saving or an expense, only what the
    other side costs."""

    @property
    def delta(self) -> Range:
        return (self.head or ZERO) - (self.base or ZERO)


def _by_category(estimate: Estimate) -> dict[str, Range]:
    totals: dict[str, Range] = {}
    for line in estimate.lines:
        totals[line.category] = totals.get(line.category, ZERO) + line.monthly
    return totals


def compare(base: Rendering, head: Rendering) -> CostChange:
    """The monthly cost of each side and what changed, by category."""
    try:
        before, after = estimate(base), estimate(head)
    except CostError as error:
        return CostChange(base=None, head=None, error=str(error))
    old, new = _by_category(before), _by_category(after)
    changed = {
        category: new.get(category, ZERO) - old.get(category, ZERO)
        for category in sorted(set(old) | set(new))
    }
    by_category = {
        category: change
        for category, change in changed.items()
        if abs(change.low) >= 0.005 or abs(change.high) >= 0.005
    }
    unpriced: dict[str, UnpricedCategory] = {}
    for category in by_category:
        base_items, head_items = (
            tuple(
                f"{line.item} ({line.price.not_priced})"
                for line in estimated.lines
                if line.category == category and not line.priced
            )
            for estimated in (before, after)
        )
        if base_items or head_items:
            unpriced[category] = UnpricedCategory(
                base=old.get(category, ZERO),
                head=new.get(category, ZERO),
                base_items=base_items,
                head_items=head_items,
                base_priced=any(line.priced for line in before.lines if line.category == category),
                head_priced=any(line.priced for line in after.lines if line.category == category),
            )
    return CostChange(
        base=before.total,
        head=after.total,
        not_priced={
            side: sum(1 for line in estimated.lines if not line.priced)
            for side, estimated in (("base", before), ("head", after))
        },
        by_category=by_category,
        unpriced=unpriced,
    )


def change_text(change: CostChange) -> str:
    if change.error is not None or change.base is None or change.head is None:
        return f"Estimated monthly cost: not available ({change.error})"
    delta = change.delta
    left_out = ", ".join(f"{side} {n}" for side, n in change.not_priced.items() if n)
    return (
        f"Estimated monthly cost: {show_range(change.base)} → {show_range(change.head)} "
        f"(low {signed_usd(delta.low)}, high {signed_usd(delta.high)})"
        + (f"; lines not priced, left out of the totals: {left_out}" if left_out else "")
    )


def change_categories(change: CostChange) -> list[str]:
    lines = []
    for category, value in change.by_category.items():
        unpriced = change.unpriced.get(category)
        shown = f"{category}: low {signed_usd(value.low)}, high {signed_usd(value.high)}"
        if unpriced is None:
            lines.append(shown)
            continue
        if unpriced.comparable:
            left_out = ", ".join(
                f"{name} {len(items)}"
                for name, items in (("base", unpriced.base_items), ("head", unpriced.head_items))
                if items
            )
            lines.append(f"{shown} (lines not priced: {left_out})")
            continue

        # A side with lines it cannot price: the difference is not a saving or an expense.
        def side(total: Range, items: tuple[str, ...]) -> str:
            if not items:
                return show_range(total)
            priced = f"{show_range(total)} + " if total != ZERO else ""
            return f"{priced}not priced"

        reasons = [
            f"{name}: {item}"
            for name, items in (("base", unpriced.base_items), ("head", unpriced.head_items))
            for item in items
        ]
        lines.append(
            f"{category}: {side(unpriced.base, unpriced.base_items)} → "
            f"{side(unpriced.head, unpriced.head_items)} (no change shown; "
            + "; ".join(reasons)
            + ")"
        )
    return lines
