"""The cost lines of a rendering: quantities read from the recorded resources (task sizes,
counts and scaling bands, capacity providers, NAT gateways, the load balancer, WAF, logs,
alarms, tables, repositories, discovery, traces), priced from the price book."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.estimates.cost.model import (
    DAYS_PER_MONTH,
    FREE_RULES,
    HOURS_PER_MONTH,
    LCU_ACTIVE_CONNECTIONS,
    LCU_GB_PER_HOUR,
    LCU_NEW_CONNECTIONS_PER_SECOND,
    LCU_RULE_EVALUATIONS_PER_SECOND,
    PAID_RULE_GROUPS,
    SAMPLER_ARG,
    SECONDS_PER_MONTH,
    ZERO,
    Assumption,
    CostLine,
    Estimate,
    PriceBook,
    Range,
)
from offline.estimates.cost.prices import (
    ASSUMPTIONS_PATH,
    PRICES_DIR,
    config_overrides,
    load_assumptions,
    load_prices,
    region_of,
)
from offline.render.harness import RecordedResource, Rendering

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


SUBSCRIBER_LONG_POLL_SECONDS = 20
"""A subscriber's receive loop waits up to this for a message (apps/order-service,
EVENTS_WAIT_SECONDS; SQS's longest): while idle, each task makes one receive per this long."""
EVENT_REQUESTS_PER_SUBSCRIBER = 2
"""A subscriber's requests per event it receives: the receive and the delete."""


def _events(
    rendering: Rendering, services: list[_Service], a: Mapping[str, Assumption], out: _Lines
) -> None:
    """The events' transport (docs/events.md), for `eventsPerMonth` events per publisher: each
    topic's publishes, each subscriber's queue requests (its idle long polls and a receive and
    a delete per event), each relay's invocations and duration. A queue, a dead-letter queue
    and a topic cost nothing while nothing passes through them. The events key is priced with
    the other keys, the relay's log group with the platform's log groups."""
    events = a["eventsPerMonth"].value
    topics = [t for t in rendering.of_type("aws:sns/topic:Topic") if t.inputs.get("fifoTopic")]
    for topic in topics:
        label = str(topic.inputs.get("name") or topic.name)
        out.add(
            "sns",
            label,
            "million FIFO publishes",
            Range.fixed(events / 1e6),
            "sns.fifoPublishes",
            ["eventsPerMonth"],
        )
        out.add("sns", label, "FIFO payload data", Range.fixed(1), "sns.fifoPayload")
    subscriptions: dict[str, int] = {}
    for subscription in rendering.of_type("aws:sns/topicSubscription:TopicSubscription"):
        queue = _referenced(subscription.inputs.get("endpoint"))
        if queue is not None:
            subscriptions[queue] = subscriptions.get(queue, 0) + 1
    idle_receives = SECONDS_PER_MONTH / SUBSCRIBER_LONG_POLL_SECONDS
    for queue in rendering.of_type("aws:sqs/queue:Queue"):
        topics_in = subscriptions.get(queue.name, 0)
        if not topics_in:
            continue  # a dead-letter or failure queue: requests only when something fails
        label = str(queue.inputs.get("name") or queue.name)
        readers = [s for s in services if label.endswith(f"-{s.name}-events.fifo")]
        tasks = readers[0].tasks if readers else Range.fixed(1)
        per_event = events * topics_in * EVENT_REQUESTS_PER_SUBSCRIBER
        out.add(
            "sqs",
            label,
            f"million FIFO requests (a {SUBSCRIBER_LONG_POLL_SECONDS} s long poll per task "
            f"while idle; a receive and a delete per event from {topics_in} topic(s))",
            Range(
                (tasks.low * idle_receives + per_event) / 1e6,
                (tasks.high * idle_receives + per_event) / 1e6,
            ),
            "sqs.fifoRequests",
            ["eventsPerMonth"],
        )
    for function in rendering.of_type("aws:lambda/function:Function"):
        label = str(function.inputs.get("name") or function.name)
        memory_gb = float(function.inputs.get("memorySize") or 128) / 1024
        out.add(
            "lambda",
            label,
            "million requests (at most one per event: the stream batches them)",
            Range(0, events / 1e6),
            "lambda.millionRequests",
            ["eventsPerMonth"],
        )
        out.add(
            "lambda",
            label,
            f"GB-seconds ({memory_gb * 1024:g} MB per event's publish)",
            Range.fixed(events * a["relayMsPerEvent"].value / 1000 * memory_gb),
            "lambda.x86GbSecond",
            ["eventsPerMonth", "relayMsPerEvent"],
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
    _events(rendering, services, a, out)
    return Estimate(
        stack=rendering.stack,
        region=region,
        lines=tuple(out.lines),
        assumptions=a,
        prices_path=prices.path,
    )
