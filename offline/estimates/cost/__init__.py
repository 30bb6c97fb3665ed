"""The monthly cost of a rendering, offline: `python -m offline cost --stack S [--json]`.

Quantities come from the recorded resources (task sizes, counts and scaling bands, capacity
provider strategies, NAT gateways, the load balancer, WAF rules, keys, log groups, alarms,
tables, repositories); usage that no resource states (traffic, log volume, data through NAT)
comes from cost_assumptions.yaml beside this file, which a stack overrides under `cost.*`.
Prices come from prices/<region>.json, each with its AWS pricing page and the day it was read.

The estimate is a range: `low` runs every autoscaled service at its minimum and every fixed
one at its desired count, `high` runs every autoscaled service at its maximum. A line whose
price could not be read from a real source is kept, with its quantity and why it is not
priced, and counts for nothing in the total.

The parts: model.py (what an estimate is made of), prices.py (price files and assumptions),
lines.py (the cost lines of a rendering), present.py (text and JSON), compare.py (the change
between two renderings).
"""

from offline.estimates.cost.compare import (
    CostChange,
    UnpricedCategory,
    change_categories,
    change_text,
    compare,
)
from offline.estimates.cost.lines import (
    LCU_ASSUMPTIONS,
    alb_lcus,
    estimate,
    split_tasks,
)
from offline.estimates.cost.model import (
    CURRENCY,
    DAYS_PER_MONTH,
    FREE_RULES,
    HOURS_PER_MONTH,
    LCU_ACTIVE_CONNECTIONS,
    LCU_GB_PER_HOUR,
    LCU_NEW_CONNECTIONS_PER_SECOND,
    LCU_RULE_EVALUATIONS_PER_SECOND,
    PAID_RULE_GROUPS,
    SAMPLER_ARG,
    SCHEMA_VERSION,
    SECONDS_PER_MONTH,
    ZERO,
    Assumption,
    CostError,
    CostLine,
    Estimate,
    Price,
    PriceBook,
    Range,
    usd,
)
from offline.estimates.cost.present import (
    dumps,
    show_range,
    signed_usd,
    summary_line,
    to_document,
    to_text,
)
from offline.estimates.cost.prices import (
    ASSUMPTIONS_PATH,
    PRICES_DIR,
    config_overrides,
    load_assumptions,
    load_prices,
    price_files,
    region_of,
)

__all__ = [
    "ASSUMPTIONS_PATH",
    "CURRENCY",
    "DAYS_PER_MONTH",
    "FREE_RULES",
    "HOURS_PER_MONTH",
    "LCU_ACTIVE_CONNECTIONS",
    "LCU_ASSUMPTIONS",
    "LCU_GB_PER_HOUR",
    "LCU_NEW_CONNECTIONS_PER_SECOND",
    "LCU_RULE_EVALUATIONS_PER_SECOND",
    "PAID_RULE_GROUPS",
    "PRICES_DIR",
    "SAMPLER_ARG",
    "SCHEMA_VERSION",
    "SECONDS_PER_MONTH",
    "ZERO",
    "Assumption",
    "CostChange",
    "CostError",
    "CostLine",
    "Estimate",
    "Price",
    "PriceBook",
    "Range",
    "UnpricedCategory",
    "alb_lcus",
    "change_categories",
    "change_text",
    "compare",
    "config_overrides",
    "dumps",
    "estimate",
    "load_assumptions",
    "load_prices",
    "price_files",
    "region_of",
    "show_range",
    "signed_usd",
    "split_tasks",
    "summary_line",
    "to_document",
    "to_text",
    "usd",
]
