"""A service's CloudWatch alarms, as plain definitions.

Every service: CPU and memory utilisation high, and running tasks below its minimum. A
routed service also: the 5xx rate of each target group it serves from (two during a
traffic-shifting release) and of the load balancer itself, unhealthy targets, and the 99th
percentile of its targets' response time. A service without a route, on ECS Service Connect:
the 5xx rate and the response time its callers see through their proxies. The alarms
that mean "this release is bad" are marked `release`: the ECS service watches them during a
deployment and rolls back when one fires.

Metric names, namespaces, dimensions and units are AWS's:
- AWS/ECS CPUUtilization and MemoryUtilization (Percent; ClusterName, ServiceName; 1-minute
  periods): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html
- ECS/ContainerInsights RunningTaskCount (Count; ClusterName, ServiceName; needs Container
  Insights): https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
- AWS/ApplicationELB HTTPCode_Target_5XX_Count and RequestCount (Sum), UnHealthyHostCount,
  TargetResponseTime (Seconds; pNN) with LoadBalancer and TargetGroup, in 60-second periods
  and only while requests flow:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
- AWS/ECS Service Connect metrics, reported only with Service Connect:
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html (also
  in AWS's own source of that page, github.com/awsdocs/amazon-ecs-developer-guide,
  doc_source/cloudwatch-metrics.md). RequestCount: inbound requests, by DiscoveryName,
  ServiceName (the service's own), ClusterName. HTTPCode_Target_5XX_Count (needs appProtocol
  http or http2) and TargetResponseTime (milliseconds): by TargetDiscoveryName, ServiceName,
  ClusterName, where ServiceName is the calling service. So a service's errors and response
  times are read once per caller, and its requests once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

PERIOD_SECONDS = 60
EVALUATION_PERIODS = 3
"""An alarm fires after three breaching minutes: within any bake time this program allows."""


@dataclass(frozen=True, kw_only=True)
class ServiceAlarmArgs:
    topic_arn: pulumi.Input[str]
    """Alarm and OK notifications go here."""
    name_prefix: str
    """Alarm names are per account and region: `<project>-<stack>-<service>`."""
    rollback: bool
    """Watch the release alarms during deployments and roll back when one fires."""
    cpu_percent: int
    memory_percent: int
    minimum_tasks: int | None
    """Alarm below this many running tasks; None where Container Insights is off."""
    http5xx_percent: float | None = None
    unhealthy_hosts: int | None = None
    latency_p99_ms: int | None = None
    load_balancer_arn_suffix: pulumi.Input[str] | None = None
    target_group_arn_suffixes: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    service_connect: ServiceConnectMetricsArgs | None = None
    """Watch the requests to a service without a route through its callers' proxies."""


@dataclass(frozen=True, kw_only=True)
class ServiceConnectMetricsArgs:
    """Where Service Connect reports the requests to one service."""

    discovery_name: str
    """The service's Service Connect discovery name (the DiscoveryName dimensions)."""
    callers: Sequence[str]
    """ECS service names of the services that call it, in the same cluster."""


@dataclass(frozen=True, kw_only=True)
class AlarmDefinition:
    suffix: str
    description: str
    release: bool
    """One of the alarms that roll a deployment back."""
    inputs: dict[str, Any]
    """aws.cloudwatch.MetricAlarm arguments, without the name and the actions."""


def _metric(namespace: str, name: str, dimensions: dict[str, Any], stat: str) -> dict[str, Any]:
    return {
        "metric": {
            "namespace": namespace,
            "metric_name": name,
            "dimensions": dimensions,
            "period": PERIOD_SECONDS,
            "stat": stat,
        },
        "return_data": False,
    }


def _per_target_group(
    args: ServiceAlarmArgs, metric: str, stat: str, prefix: str
) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{index}",
            **_metric(
                "AWS/ApplicationELB",
                metric,
                {"LoadBalancer": args.load_balancer_arn_suffix, "TargetGroup": suffix},
                stat,
            ),
        }
        for index, suffix in enumerate(args.target_group_arn_suffixes)
    ]


def _ids(queries: list[dict[str, Any]], fill: bool) -> str:
    ids = [q["id"] for q in queries]
    return ", ".join(f"FILL({i}, 0)" if fill else i for i in ids)


def _error_rate_alarm(
    description: str,
    threshold: float,
    common: dict[str, Any],
    errors: list[dict[str, Any]],
    requests: list[dict[str, Any]],
) -> AlarmDefinition:
    """5xx responses as a percentage of requests, each summed over its queries."""
    return AlarmDefinition(
        suffix="5xx-rate",
        description=description,
        release=True,
        inputs={
            **common,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": threshold,
            # Reported only while requests flow: no requests, no errors.
            "treat_missing_data": "notBreaching",
            "metric_queries": [
                *errors,
                *requests,
                {"id": "errors", "expression": f"SUM([{_ids(errors, True)}])"},
                {"id": "requests", "expression": f"SUM([{_ids(requests, True)}])"},
                {
                    "id": "rate",
                    "expression": "IF(requests > 0, 100 * errors / requests, 0)",
                    "label": "5xx % of requests",
                    "return_data": True,
                },
            ],
        },
    )


def _routed_error_rate_alarm(
    args: ServiceAlarmArgs, service_name: str, common: dict[str, Any]
) -> AlarmDefinition:
    """The worst 5xx rate among the service's target groups, and the load balancer's own.

    Each target group is judged on its own: summing a canary's errors with the main group's
    before dividing dilutes them by the canary's share (a 10% canary failing 40% of its
    requests is 4% overall, under a 5% threshold). The load balancer's own 5xx (502, 503, 504
    when targets reset, time out or are missing) are not target responses, so a canary whose
    tasks crash would show none of them in HTTPCode_Target_5XX_Count. AWS reports them for the
    whole load balancer only (dimensions LoadBalancer, and AvailabilityZone; no TargetGroup:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html),
    so they are rated against all of its requests, every routed service's."""
    errors = _per_target_group(args, "HTTPCode_Target_5XX_Count", "Sum", "errors")
    requests = _per_target_group(args, "RequestCount", "Sum", "requests")
    load_balancer = {"LoadBalancer": args.load_balancer_arn_suffix}
    own_errors = {
        "id": "elberrors",
        **_metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", load_balancer, "Sum"),
    }
    all_requests = {
        "id": "elbrequests",
        **_metric("AWS/ApplicationELB", "RequestCount", load_balancer, "Sum"),
    }
    # Reported only while requests flow: no requests, no errors.
    rates = [
        {
            "id": f"rate{index}",
            "expression": (
                f"IF(FILL({r['id']}, 0) > 0, 100 * FILL({e['id']}, 0) / FILL({r['id']}, 1), 0)"
            ),
            "return_data": False,
        }
        for index, (e, r) in enumerate(zip(errors, requests, strict=True))
    ]
    # RequestCount counts the requests the load balancer sent to a target, and a response it
    # makes itself may have none: its errors are rated against both.
    rates.append(
        {
            "id": "elbrate",
            "expression": (
                "IF(FILL(elberrors, 0) > 0, 100 * FILL(elberrors, 0) / "
                "(FILL(elbrequests, 0) + FILL(elberrors, 0)), 0)"
            ),
            "return_data": False,
        }
    )
    return AlarmDefinition(
        suffix="5xx-rate",
        description=(
            f"{service_name}: 5xx responses at or above {args.http5xx_percent}% of the requests "
            "of one of its target groups, or the load balancer's own 5xx of all its requests"
        ),
        release=True,
        inputs={
            **common,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": args.http5xx_percent,
            "treat_missing_data": "notBreaching",
            "metric_queries": [
                *errors,
                *requests,
                own_errors,
                all_requests,
                *rates,
                {
                    "id": "rate",
                    "expression": f"MAX([{', '.join(r['id'] for r in rates)}])",
                    "label": "5xx % of requests, the worst target group's or the load balancer's",
                    "return_data": True,
                },
            ],
        },
    )


def alarm_definitions(
    args: ServiceAlarmArgs, *, cluster_name: pulumi.Input[str], service_name: str
) -> list[AlarmDefinition]:
    service = {"ClusterName": cluster_name, "ServiceName": service_name}
    common = {
        "evaluation_periods": EVALUATION_PERIODS,
        "datapoints_to_alarm": EVALUATION_PERIODS,
    }
    # No data: no tasks to be busy, nothing to report.
    alarms = [
        AlarmDefinition(
            suffix=f"{kind}-high",
            description=f"{service_name}: average {label} at or above {threshold}%",
            release=False,
            inputs={
                **common,
                "namespace": "AWS/ECS",
                "metric_name": metric,
                "dimensions": service,
                "statistic": "Average",
                "period": PERIOD_SECONDS,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                "threshold": threshold,
                "treat_missing_data": "notBreaching",
            },
        )
        for kind, label, metric, threshold in (
            ("cpu", "CPU", "CPUUtilization", args.cpu_percent),
            ("memory", "memory", "MemoryUtilization", args.memory_percent),
        )
    ]
    routed = bool(args.target_group_arn_suffixes) and args.load_balancer_arn_suffix is not None
    requests_watched = routed or watches_service_connect_requests(args)
    if args.minimum_tasks is not None and args.minimum_tasks > 0:
        alarms.append(
            AlarmDefinition(
                suffix="running-tasks-low",
                description=f"{service_name}: fewer than {args.minimum_tasks} tasks running",
                # A service whose responses are watched is judged by them; one without a
                # route or Service Connect callers by whether its new tasks keep running.
                release=not requests_watched,
                inputs={
                    **common,
                    "namespace": "ECS/ContainerInsights",
                    "metric_name": "RunningTaskCount",
                    "dimensions": service,
                    "statistic": "Minimum",
                    "period": PERIOD_SECONDS,
                    "comparison_operator": "LessThanThreshold",
                    "threshold": args.minimum_tasks,
                    # No data means no task reports: nothing runs.
                    "treat_missing_data": "breaching",
                },
            )
        )
    if not routed:
        return alarms + _service_connect_alarms(args, cluster_name, service_name, common)
    if args.http5xx_percent is not None:
        alarms.append(_routed_error_rate_alarm(args, service_name, common))
    if args.unhealthy_hosts is not None:
        unhealthy = _per_target_group(args, "UnHealthyHostCount", "Maximum", "unhealthy")
        alarms.append(
            AlarmDefinition(
                suffix="unhealthy-hosts",
                description=(f"{service_name}: {args.unhealthy_hosts} or more unhealthy targets"),
                release=True,
                inputs={
                    **common,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                    "threshold": args.unhealthy_hosts,
                    "treat_missing_data": "notBreaching",
                    "metric_queries": [
                        *unhealthy,
                        {
                            "id": "most",
                            "expression": f"MAX([{_ids(unhealthy, True)}])",
                            "label": "unhealthy targets",
                            "return_data": True,
                        },
                    ],
                },
            )
        )
    if args.latency_p99_ms is not None:
        latency = _per_target_group(args, "TargetResponseTime", "p99", "latency")
        alarms.append(
            AlarmDefinition(
                suffix="latency-p99",
                description=(
                    f"{service_name}: 99th percentile response time at or above "
                    f"{args.latency_p99_ms} ms"
                ),
                release=True,
                inputs={
                    **common,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                    # TargetResponseTime is in seconds.
                    "threshold": args.latency_p99_ms / 1000,
                    "treat_missing_data": "notBreaching",
                    "metric_queries": [
                        *latency,
                        {
                            "id": "slowest",
                            "expression": f"MAX([{_ids(latency, True)}])",
                            "label": "p99 response time (s)",
                            "return_data": True,
                        },
                    ],
                },
            )
        )
    return alarms


def watches_service_connect_requests(args: ServiceAlarmArgs) -> bool:
    sc = args.service_connect
    return sc is not None and bool(sc.callers)


def _service_connect_alarms(
    args: ServiceAlarmArgs,
    cluster_name: pulumi.Input[str],
    service_name: str,
    common: dict[str, Any],
) -> list[AlarmDefinition]:
    """The 5xx rate and p99 response time of the requests its callers send it."""
    sc = args.service_connect
    if sc is None or not watches_service_connect_requests(args):
        return []

    def per_caller(metric: str, stat: str, prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "id": f"{prefix}{index}",
                **_metric(
                    "AWS/ECS",
                    metric,
                    {
                        "ClusterName": cluster_name,
                        "ServiceName": caller,
                        "TargetDiscoveryName": sc.discovery_name,
                    },
                    stat,
                ),
            }
            for index, caller in enumerate(sc.callers)
        ]

    alarms: list[AlarmDefinition] = []
    if args.http5xx_percent is not None:
        errors = per_caller("HTTPCode_Target_5XX_Count", "Sum", "errors")
        requests = [
            {
                "id": "requests0",
                **_metric(
                    "AWS/ECS",
                    "RequestCount",
                    {
                        "ClusterName": cluster_name,
                        "ServiceName": service_name,
                        "DiscoveryName": sc.discovery_name,
                    },
                    "Sum",
                ),
            }
        ]
        alarms.append(
            _error_rate_alarm(
                f"{service_name}: 5xx responses to its callers at or above "
                f"{args.http5xx_percent}% of requests (Service Connect)",
                args.http5xx_percent,
                common,
                errors,
                requests,
            )
        )
    if args.latency_p99_ms is not None:
        # The average, not p99 as for the load balancer's targets: AWS lists Average, Minimum,
        # Maximum, Sum and Sample Count for this metric
        # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html),
        # and a statistic CloudWatch does not serve would leave a release alarm silently OK.
        latency = per_caller("TargetResponseTime", "Average", "latency")
        alarms.append(
            AlarmDefinition(
                suffix="latency-average",
                description=(
                    f"{service_name}: average response time to one of its callers at or above "
                    f"{args.latency_p99_ms} ms (Service Connect)"
                ),
                release=True,
                inputs={
                    **common,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                    # Service Connect's TargetResponseTime is in milliseconds.
                    "threshold": args.latency_p99_ms,
                    "treat_missing_data": "notBreaching",
                    "metric_queries": [
                        *latency,
                        {
                            "id": "slowest",
                            "expression": f"MAX([{_ids(latency, True)}])",
                            "label": "average response time (ms), the slowest caller's",
                            "return_data": True,
                        },
                    ],
                },
            )
        )
    return alarms
