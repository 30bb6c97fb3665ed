"""The monthly cost of a rendering, offline: `python -m offline cost --stack S [--json]`.

Quantities come from the recorded resources (task sizes, counts and scaling bands, capacity
provider strategies, NAT gateways, the load balancer, WAF rules, keys, log groups, alarms,
tables, repositories); usage that no resource states (traffic, log volume, data through NAT)
comes from offline/cost_assumptions.yaml, which a stack overrides under `cost.*`. Prices come
from offline/prices/<region>.json, each with its AWS pricing page and the day it was read.

The estimate is a range: `low` runs every autoscaled service at its minimum and every fixed
one at its desired count, `high` runs every autoscaled service at its maximum. A line whose
price could not be read from a real source is kept, with its quantity and why it is not
priced, and counts for nothing in the total.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.schema import CostConfig
from offline.harness import RecordedResource, Rendering
from offline.table import table_lines

SCHEMA_VERSION = 1
PRICES_DIR = Path(__file__).with_name("prices")
ASSUMPTIONS_PATH = Path(__file__).with_name("cost_assumptions.yaml")
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


# --- prices and assumptions ------------------------------------------------------------------


def price_files(prices_dir: Path = PRICES_DIR) -> list[str]:
    return sorted(path.name for path in prices_dir.glob("*.json"))


def load_prices(region: str, prices_dir: Path = PRICES_DIR) -> PriceBook:
    path = prices_dir / f"{region}.json"
    if not path.is_file():
        files = ", ".join(price_files(prices_dir)) or "none"
        raise CostError(
            f"no price file for region {region}: {path} does not exist (price files: {files})"
        )
    document = json.loads(path.read_text())
    prices = {
        key: Price(
            key=key,
            usd=entry["usd"],
            unit=entry["unit"],
            source=entry["source"],
            read=entry["read"],
            not_priced=entry.get("notPriced"),
        )
        for key, entry in document["prices"].items()
    }
    return PriceBook(region=region, path=path, prices=prices)


def load_assumptions(
    overrides: Mapping[str, float] | None = None, path: Path = ASSUMPTIONS_PATH
) -> dict[str, Assumption]:
    document = yaml.safe_load(path.read_text())
    overrides = overrides or {}
    return {
        key: Assumption(
            key=key,
            value=float(overrides.get(key, entry["value"])),
            unit=str(entry["unit"]),
            description=" ".join(str(entry["description"]).split()),
            origin="stack config" if key in overrides else "default",
        )
        for key, entry in document.items()
    }


def config_overrides(rendering: Rendering) -> dict[str, float]:
    """The stack's `cost.*` keys, through the config schema's model (which the program has
    already checked when it rendered)."""
    raw = rendering.config.get(f"{rendering.project}:cost")
    if not raw:
        return {}
    parsed = CostConfig.model_validate(json.loads(raw))
    return {k: float(v) for k, v in parsed.model_dump(by_alias=True, exclude_none=True).items()}


def region_of(rendering: Rendering) -> str:
    region = rendering.config.get("aws:region")
    if not region:
        raise CostError(f"stack '{rendering.stack}' sets no aws:region, so it cannot be priced")
    return region


# --- capacity providers ----------------------------------------------------------------------


def split_tasks(tasks: float, strategy: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """How many of `tasks` run on each capacity provider of a strategy.

    ECS's semantics (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
    API_CapacityProviderStrategyItem.html): "The base value designates how many tasks, at a
    minimum, to run on the specified capacity provider", and "The weight value designates the
    relative percentage of the total number of tasks launched that should use the specified
    capacity provider. The weight value is taken into consideration after the base value, if
    defined, is satisfied." The rest is split by weight as a long-run share, so a count may be
    fractional. An empty strategy runs everything on FARGATE.
    """
    if not strategy:
        return {"FARGATE": float(tasks)}
    shares = {str(item["capacityProvider"]): 0.0 for item in strategy}
    remaining = float(tasks)
    for item in strategy:
        base = min(float(item.get("base") or 0), remaining)
        shares[str(item["capacityProvider"])] += base
        remaining -= base
    weights = {str(item["capacityProvider"]): float(item.get("weight") or 0) for item in strategy}
    total_weight = sum(weights.values())
    if remaining > 0 and total_weight > 0:
        for provider, weight in weights.items():
            shares[provider] += remaining * weight / total_weight
    return shares


# --- reading the resources -------------------------------------------------------------------


def _referenced(value: Any) -> str | None:
    """The resource name in a `${name.attribute}` reference."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1].rsplit(".", 1)[0]
    return None


def _by_name(rendering: Rendering, type_: str) -> dict[str, RecordedResource]:
    return {r.name: r for r in rendering.of_type(type_)}


@dataclass(frozen=True, kw_only=True)
class _Service:
    name: str
    tasks: Range
    vcpu: float
    memory_gb: float
    architecture: str
    strategy: tuple[Mapping[str, Any], ...]
    public_ip: bool
    log_groups: tuple[str, ...]
    sampling_ratio: float | None


def _services(rendering: Rendering) -> list[_Service]:
    tasks_by_name = _by_name(rendering, "aws:ecs/taskDefinition:TaskDefinition")
    targets = rendering.of_type("aws:appautoscaling/target:Target")
    default_strategy: tuple[Mapping[str, Any], ...] = ()
    for defaults in rendering.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"):
        default_strategy = tuple(defaults.inputs.get("defaultCapacityProviderStrategies") or ())
    found = []
    for service in rendering.of_type("aws:ecs/service:Service"):
        inputs = service.inputs
        name = str(inputs.get("name") or service.name)
        task = tasks_by_name.get(_referenced(inputs.get("taskDefinition")) or "")
        if task is None:
            continue
        desired = float(inputs.get("desiredCount") or 0)
        band = [
            t.inputs
            for t in targets
            if str(t.inputs.get("resourceId", "")).endswith(f"/{name}")
            and t.inputs.get("scalableDimension") == "ecs:service:DesiredCount"
        ]
        tasks = (
            Range(float(band[0]["minCapacity"]), float(band[0]["maxCapacity"]))
            if band
            else Range.fixed(desired)
        )
        strategy = tuple(inputs.get("capacityProviderStrategies") or ())
        if not strategy and inputs.get("launchType") is None:
            strategy = default_strategy
        containers = json.loads(task.inputs.get("containerDefinitions") or "[]")
        # Each container of a task may write to the same group: a task counts once per group.
        groups = tuple(
            sorted(
                {
                    str(c["logConfiguration"]["options"]["awslogs-group"])
                    for c in containers
                    if (c.get("logConfiguration") or {}).get("logDriver") == "awslogs"
                }
            )
        )
        ratios = [
            float(variable["value"])
            for c in containers
            for variable in c.get("environment") or ()
            if variable.get("name") == SAMPLER_ARG
        ]
        platform = task.inputs.get("runtimePlatform") or {}
        found.append(
            _Service(
                name=name,
                tasks=tasks,
                vcpu=float(task.inputs["cpu"]) / 1024,
                memory_gb=float(task.inputs["memory"]) / 1024,
                architecture=str(platform.get("cpuArchitecture") or "X86_64"),
                strategy=strategy,
                public_ip=bool((inputs.get("networkConfiguration") or {}).get("assignPublicIp")),
                log_groups=groups,
                sampling_ratio=max(ratios) if ratios else None,
            )
        )
    return sorted(found, key=lambda s: s.name)


class _Lines:
    """Collects lines for one estimate."""

    def __init__(self, prices: PriceBook) -> None:
        self.prices = prices
        self.lines: list[CostLine] = []

    def add(
        self,
        category: str,
        resource: str,
        item: str,
        quantity: Range,
        price_key: str,
        assumptions: Iterable[str] = (),
        not_priced: str | None = None,
    ) -> None:
        """`not_priced`: why this rendering cannot price the line (it then counts for
        nothing), whatever the price file says."""
        if quantity.low == 0 and quantity.high == 0:
            return
        price = self.prices.get(price_key)
        if not_priced is not None:
            price = dataclasses.replace(price, usd=None, not_priced=not_priced)
        self.lines.append(
            CostLine(
                category=category,
                resource=resource,
                item=item,
                quantity=quantity,
                price=price,
                assumptions=tuple(assumptions),
            )
        )


def _fargate(services: list[_Service], out: _Lines) -> None:
    for service in services:
        low = split_tasks(service.tasks.low, service.strategy)
        high = split_tasks(service.tasks.high, service.strategy)
        arch = service.architecture
        for provider, kind in (("FARGATE", "fargate"), ("FARGATE_SPOT", "fargateSpot")):
            tasks = Range(low.get(provider, 0.0), high.get(provider, 0.0))
            label = "on-demand" if provider == "FARGATE" else "Spot"
            hours = tasks.scale(HOURS_PER_MONTH)
            out.add(
                "fargate",
                service.name,
                f"{label} vCPU-hours ({arch}, {service.vcpu:g} vCPU a task)",
                hours.scale(service.vcpu),
                f"{kind}.vcpuHour.{arch}",
            )
            out.add(
                "fargate",
                service.name,
                f"{label} GB-hours ({arch}, {service.memory_gb:g} GB a task)",
                hours.scale(service.memory_gb),
                f"{kind}.gbHour.{arch}",
            )
        if service.public_ip:
            out.add(
                "publicIpv4",
                service.name,
                "task public IPv4 address-hours",
                service.tasks.scale(HOURS_PER_MONTH),
                "publicIpv4.hour",
            )


def _nat_gateways(rendering: Rendering, a: Mapping[str, Assumption], out: _Lines) -> None:
    for vpc in rendering.of_type("awsx:ec2:Vpc"):
        zones = int(vpc.inputs.get("numberOfAvailabilityZones") or 3)
        # awsx: "If private and public subnets are both specified, defaults to one gateway per
        # availability zone" (pulumi_awsx.ec2.Vpc, nat_gateways).
        strategy = (vpc.inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
        count = {"None": 0, "Single": 1, "OnePerAz": zones}.get(str(strategy), zones)
        hours = Range.fixed(count * HOURS_PER_MONTH)
        out.add(
            "nat", vpc.name, f"NAT gateway-hours ({count} {strategy})", hours, "natGateway.hour"
        )
        if count:
            out.add(
                "nat",
                vpc.name,
                "GB processed by the NAT gateways",
                Range.fixed(a["natGbPerMonth"].value),
                "natGateway.gbProcessed",
                ["natGbPerMonth"],
            )
        out.add(
            "publicIpv4",
            vpc.name,
            f"NAT gateway Elastic IP address-hours ({count})",
            hours,
            "publicIpv4.hour",
        )


def alb_lcus(a: Mapping[str, Assumption], rules: int) -> float:
    """Average LCUs of a load balancer under the traffic assumptions: the largest of the four
    dimensions, traffic spread evenly over the month."""
    per_second = a["requestsPerMonth"].value / SECONDS_PER_MONTH
    new_connections = per_second / a["requestsPerConnection"].value
    active_connections = new_connections * a["connectionSeconds"].value
    gb_per_hour = a["requestsPerMonth"].value * a["kbPerRequest"].value / 1e6 / HOURS_PER_MONTH
    rule_evaluations = per_second * max(0, rules - FREE_RULES)
    return max(
        new_connections / LCU_NEW_CONNECTIONS_PER_SECOND,
        active_connections / LCU_ACTIVE_CONNECTIONS,
        gb_per_hour / LCU_GB_PER_HOUR,
        rule_evaluations / LCU_RULE_EVALUATIONS_PER_SECOND,
    )


LCU_ASSUMPTIONS = ("requestsPerMonth", "requestsPerConnection", "connectionSeconds", "kbPerRequest")


def _load_balancers(rendering: Rendering, a: Mapping[str, Assumption], out: _Lines) -> None:
    listeners = rendering.of_type("aws:lb/listener:Listener")
    rules = rendering.of_type("aws:lb/listenerRule:ListenerRule")
    for alb in rendering.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if alb.inputs.get("loadBalancerType", "application") != "application":
            continue
        own = {
            listener.name
            for listener in listeners
            if _referenced(listener.inputs.get("loadBalancerArn")) == alb.name
        }
        rule_count = sum(1 for r in rules if _referenced(r.inputs.get("listenerArn")) in own)
        out.add("alb", alb.name, "load balancer-hours", Range.fixed(HOURS_PER_MONTH), "alb.hour")
        out.add(
            "alb",
            alb.name,
            f"LCU-hours ({rule_count} listener rules)",
            Range.fixed(alb_lcus(a, rule_count) * HOURS_PER_MONTH),
            "alb.lcuHour",
            LCU_ASSUMPTIONS,
        )
        if not alb.inputs.get("internal"):
            # An internet-facing ALB has a node, with a public address, in each enabled zone
            # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
            # application-load-balancers.html); more when it scales out.
            zones = len(alb.inputs.get("subnets") or alb.inputs.get("subnetMappings") or ())
            out.add(
                "publicIpv4",
                alb.name,
                f"load balancer public IPv4 address-hours (one per zone, {zones} zones)",
                Range.fixed(zones * HOURS_PER_MONTH),
                "publicIpv4.hour",
            )


def _wafs(rendering: Rendering, a: Mapping[str, Assumption], out: _Lines) -> None:
    rules = rendering.of_type("aws:wafv2/webAclRule:WebAclRule")
    for acl in rendering.of_type("aws:wafv2/webAcl:WebAcl"):
        statements = [
            r.inputs.get("statement") or {}
            for r in rules
            if _referenced(r.inputs.get("webAclArn")) == acl.name
        ] + [rule.get("statement") or {} for rule in acl.inputs.get("rules") or ()]
        out.add("waf", acl.name, "web ACL-months", Range.fixed(1), "waf.webAclMonth")
        out.add(
            "waf",
            acl.name,
            f"rule-months ({len(statements)} rules; a rule group counts as one)",
            Range.fixed(len(statements)),
            "waf.ruleMonth",
        )
        out.add(
            "waf",
            acl.name,
            "million requests inspected",
            Range.fixed(a["requestsPerMonth"].value / 1e6),
            "waf.millionRequests",
            ["requestsPerMonth"],
        )
        for statement in statements:
            group = (statement.get("managedRuleGroupStatement") or {}).get("name")
            if group in PAID_RULE_GROUPS:
                out.add(
                    "waf",
                    acl.name,
                    f"{group} subscription",
                    Range.fixed(1),
                    f"waf.managedRuleGroup.{group}",
                )


def _log_groups(
    rendering: Rendering, services: list[_Service], a: Mapping[str, Assumption], out: _Lines
) -> None:
    vended = {}
    for flow_log in rendering.of_type("aws:ec2/flowLog:FlowLog"):
        if flow_log.inputs.get("logDestinationType", "cloud-watch-logs") == "cloud-watch-logs":
            name = _referenced(flow_log.inputs.get("logDestination"))
            if name:
                vended[name] = "flowLogGbPerMonth"
    for waf_logging in rendering.of_type(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
    ):
        for destination in waf_logging.inputs.get("logDestinationConfigs") or ():
            name = _referenced(destination)
            if name:
                vended[name] = "wafLogGbPerMonth"
    writers: dict[str, Range] = {}
    for service in services:
        for group in service.log_groups:
            writers[group] = writers.get(group, ZERO) + service.tasks
    groups = list(rendering.of_type("aws:cloudwatch/logGroup:LogGroup"))
    # A service stack's tasks write to log groups its platform holds: their logs are the
    # service stack's cost (the platform prices no task's logs), at the platform's retention.
    held = {str(group.inputs.get("name") or group.name) for group in groups}
    elsewhere = [name for name in sorted(writers) if name not in held]
    platform_groups = {
        str(group.inputs.get("name") or group.name): group
        for group in (rendering.platform.resources if rendering.platform else ())
        if group.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    for name in elsewhere:
        ingested = writers[name].scale(a["logGbPerTaskMonth"].value)
        used = ["logGbPerTaskMonth"]
        out.add("logs", name, "GB of logs ingested", ingested, "cloudwatch.logsIngestGb", used)
        platform_group = platform_groups.get(name)
        if platform_group is None:
            out.add(
                "logs",
                name,
                "GB-months stored",
                ingested,
                "cloudwatch.logsStorageGbMonth",
                not_priced="the log group and its retention are the platform stack's, which is "
                "not rendered here",
            )
            continue
        _stored(name, platform_group.inputs.get("retentionInDays"), ingested, used, a, out)
    for group in groups:
        label = str(group.inputs.get("name") or group.name)
        retention = group.inputs.get("retentionInDays")
        if group.name in vended:
            key = vended[group.name]
            ingested = Range.fixed(a[key].value)
            used = [key]
            out.add(
                "logs",
                label,
                "GB of vended logs ingested",
                ingested,
                "cloudwatch.vendedLogsIngestGb",
                used,
            )
        elif label in writers:
            ingested = writers[label].scale(a["logGbPerTaskMonth"].value)
            used = ["logGbPerTaskMonth"]
            out.add("logs", label, "GB of logs ingested", ingested, "cloudwatch.logsIngestGb", used)
        else:
            continue
        _stored(label, retention, ingested, used, a, out)


def _stored(
    label: str,
    retention: Any,
    ingested: Range,
    used: list[str],
    a: Mapping[str, Assumption],
    out: _Lines,
) -> None:
    # What stays stored once the retention window is full; logs kept forever are counted at
    # one year of them.
    months = (float(retention) if retention else 365.0) / DAYS_PER_MONTH
    out.add(
        "logs",
        label,
        f"GB-months stored ({retention or 'no'} days' retention)",
        ingested.scale(months * a["logStorageRatio"].value),
        "cloudwatch.logsStorageGbMonth",
        [*used, "logStorageRatio"],
    )


def _alarm_metrics(alarm: RecordedResource) -> int:
    """Alarm metrics billed for one alarm: one for a single metric, else each metric its
    metric math reads."""
    queries = alarm.inputs.get("metricQueries") or ()
    if queries:
        return sum(1 for query in queries if query.get("metric"))
    return 1


def _monitoring(
    rendering: Rendering, services: list[_Service], a: Mapping[str, Assumption], out: _Lines
) -> None:
    alarms = rendering.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    standard = [
        alarm
        for alarm in alarms
        if all(
            int(q.get("metric", {}).get("period", 60)) >= 60
            for q in alarm.inputs.get("metricQueries") or ()
        )
        and int(alarm.inputs.get("period") or 60) >= 60
    ]
    out.add(
        "alarms",
        f"{len(standard)} alarms",
        "standard-resolution alarm metrics",
        Range.fixed(sum(_alarm_metrics(alarm) for alarm in standard)),
        "cloudwatch.alarmMetricMonth",
    )
    high_resolution = [alarm for alarm in alarms if alarm not in standard]
    out.add(
        "alarms",
        f"{len(high_resolution)} alarms",
        "high-resolution alarm metrics",
        Range.fixed(sum(_alarm_metrics(alarm) for alarm in high_resolution)),
        "cloudwatch.highResolutionAlarmMetricMonth",
    )
    for dashboard in rendering.of_type("aws:cloudwatch/dashboard:Dashboard"):
        label = str(dashboard.inputs.get("dashboardName") or dashboard.name)
        out.add(
            "dashboards", label, "dashboard-months", Range.fixed(1), "cloudwatch.dashboardMonth"
        )
    clusters = rendering.of_type("aws:ecs/cluster:Cluster")
    if not clusters and services and rendering.platform is not None:
        # A service stack: its services' metrics on its platform's cluster are its own cost.
        for cluster in rendering.platform.of_type("aws:ecs/cluster:Cluster"):
            if _container_insights(cluster) == "enabled":
                out.add(
                    "containerInsights",
                    str(cluster.inputs.get("name") or cluster.name),
                    f"Container Insights metric-months ({len(services)} services of this stack)",
                    Range.fixed(a["containerInsightsMetricsPerService"].value * len(services)),
                    "cloudwatch.metricMonth",
                    ["containerInsightsMetricsPerService"],
                )
    for cluster in clusters:
        label = str(cluster.inputs.get("name") or cluster.name)
        setting = _container_insights(cluster)
        if setting == "enabled":
            metrics = a["containerInsightsMetricsPerCluster"].value + a[
                "containerInsightsMetricsPerService"
            ].value * len(services)
            out.add(
                "containerInsights",
                label,
                f"Container Insights metric-months ({len(services)} services)",
                Range.fixed(metrics),
                "cloudwatch.metricMonth",
                ["containerInsightsMetricsPerCluster", "containerInsightsMetricsPerService"],
            )
        elif setting == "enhanced":
            out.add(
                "containerInsights",
                label,
                f"Container Insights with enhanced observability ({len(services)} services)",
                Range.fixed(1),
                "cloudwatch.containerInsightsEnhanced",
            )


def _container_insights(cluster: RecordedResource) -> str:
    return next(
        (
            str(s.get("value"))
            for s in cluster.inputs.get("settings") or ()
            if s.get("name") == "containerInsights"
        ),
        "disabled",
    )


def _data(rendering: Rendering, a: Mapping[str, Assumption], out: _Lines) -> None:
    for table in rendering.of_type("aws:dynamodb/table:Table"):
        label = str(table.inputs.get("name") or table.name)
        if table.inputs.get("billingMode", "PROVISIONED") == "PAY_PER_REQUEST":
            out.add(
                "dynamodb",
                label,
                "million write request units",
                Range.fixed(a["tableWritesPerMonth"].value / 1e6),
                "dynamodb.onDemandMillionWrites",
                ["tableWritesPerMonth"],
            )
            out.add(
                "dynamodb",
                label,
                "million read request units",
                Range.fixed(a["tableReadsPerMonth"].value / 1e6),
                "dynamodb.onDemandMillionReads",
                ["tableReadsPerMonth"],
            )
        else:
            out.add(
                "dynamodb",
                label,
                "provisioned capacity",
                Range.fixed(1),
                "dynamodb.provisionedCapacity",
            )
        gb = Range.fixed(a["tableGb"].value)
        out.add("dynamodb", label, "GB-months stored", gb, "dynamodb.storageGbMonth", ["tableGb"])
        if (table.inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            out.add(
                "dynamodb",
                label,
                "point-in-time recovery GB-months",
                gb,
                "dynamodb.pitrGbMonth",
                ["tableGb"],
            )
    policies = rendering.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    for repository in rendering.of_type("aws:ecr/repository:Repository"):
        kept = [
            int(rule["selection"]["countNumber"])
            for policy in policies
            if _referenced(policy.inputs.get("repository")) == repository.name
            for rule in json.loads(policy.inputs.get("policy") or "{}").get("rules", ())
            if rule.get("selection", {}).get("countType") == "imageCountMoreThan"
        ]
        if kept:
            out.add(
                "ecr",
                repository.name,
                f"GB-months stored ({min(kept)} images kept by its lifecycle policy)",
                Range.fixed(min(kept) * a["imageGb"].value),
                "ecr.storageGbMonth",
                ["imageGb"],
            )
        else:
            out.add(
                "ecr",
                repository.name,
                "GB-months stored (no lifecycle policy bounds the images kept)",
                Range.fixed(1),
                "ecr.unboundedStorage",
            )
    for secret in rendering.of_type("aws:secretsmanager/secret:Secret"):
        out.add(
            "secretsManager",
            secret.name,
            "secret-months",
            Range.fixed(1),
            "secretsManager.secretMonth",
        )
    for key in rendering.of_type("aws:kms/key:Key"):
        out.add("kms", key.name, "key-months", Range.fixed(1), "kms.keyMonth")


def _access_logs(rendering: Rendering, a: Mapping[str, Assumption], out: _Lines) -> None:
    lifecycles = rendering.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    for alb in rendering.of_type("aws:lb/loadBalancer:LoadBalancer"):
        logs = alb.inputs.get("accessLogs") or {}
        bucket = _referenced(logs.get("bucket"))
        if not logs.get("enabled") or bucket is None:
            continue
        days = [
            int(rule["expiration"]["days"])
            for lifecycle in lifecycles
            if _referenced(lifecycle.inputs.get("bucket")) == bucket
            for rule in lifecycle.inputs.get("rules") or ()
            if rule.get("status") == "Enabled" and (rule.get("expiration") or {}).get("days")
        ]
        months = (min(days) if days else 365) / DAYS_PER_MONTH
        out.add(
            "s3",
            bucket,
            f"GB-months of access logs stored ({min(days) if days else 'no expiry, a year'}"
            f"{' days' if days else ''})",
            Range.fixed(a["accessLogGbPerMonth"].value * months),
            "s3.standardGbMonth",
            ["accessLogGbPerMonth"],
        )


def _discovery(rendering: Rendering, services: list[_Service], out: _Lines) -> None:
    for namespace in rendering.of_type(
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
    ):
        label = str(namespace.inputs.get("name") or namespace.name)
        out.add(
            "route53",
            label,
            "private hosted zone-months",
            Range.fixed(1),
            "route53.hostedZoneMonth",
        )
    registered = [
        s for s in rendering.of_type("aws:ecs/service:Service") if s.inputs.get("serviceRegistries")
    ]
    if registered:
        names = {str(s.inputs.get("name")) for s in registered}
        tasks = ZERO
        for service in services:
            if service.name in names:
                tasks = tasks + service.tasks
        out.add(
            "cloudMap",
            f"{len(registered)} services",
            "registered task instance-months",
            tasks,
            "cloudMap.instanceMonth",
        )


def _traces(services: list[_Service], a: Mapping[str, Assumption], out: _Lines) -> None:
    ratios = [s.sampling_ratio for s in services if s.sampling_ratio is not None]
    if not ratios:
        return
    # A trace starts at the edge and carries its sampling decision downstream, so the traces
    # recorded are the requests that arrive times the ratio the services sample at.
    ratio = max(ratios)
    out.add(
        "traces",
        f"{len(ratios)} services",
        f"million traces recorded as spans in Transaction Search (sampling ratio {ratio:g})",
        Range.fixed(a["requestsPerMonth"].value * ratio / 1e6),
        "transactionSearch.millionTraces",
        ["requestsPerMonth"],
    )


def estimate(
    rendering: Rendering,
    *,
    prices_dir: Path | None = None,
    assumptions_path: Path | None = None,
) -> Estimate:
    """The monthly cost of what `rendering` registers."""
    region = region_of(rendering)
    prices = load_prices(region, prices_dir or PRICES_DIR)
    a = load_assumptions(config_overrides(rendering), assumptions_path or ASSUMPTIONS_PATH)
    out = _Lines(prices)
    services = _services(rendering)
    _fargate(services, out)
    _nat_gateways(rendering, a, out)
    _load_balancers(rendering, a, out)
    _wafs(rendering, a, out)
    _log_groups(rendering, services, a, out)
    _monitoring(rendering, services, a, out)
    _data(rendering, a, out)
    _access_logs(rendering, a, out)
    _discovery(rendering, services, out)
    _traces(services, a, out)
    return Estimate(
        stack=rendering.stack,
        region=region,
        lines=tuple(out.lines),
        assumptions=a,
        prices_path=prices.path,
    )


# --- presentation ----------------------------------------------------------------------------


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


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
        "Assumptions (offline/cost_assumptions.yaml; a stack overrides them under cost.*):",
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
        f"Prices: offline/prices/{estimate.prices_path.name}, each with its AWS pricing page and "
        "the day it was read. Free tiers, savings plans, data transfer out and taxes are left out.",
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


# --- the change between two renderings -------------------------------------------------------


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
