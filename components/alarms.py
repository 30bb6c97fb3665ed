"""A service's CloudWatch alarms, as plain definitions.

Every service: CPU and memory utilisation high, and running tasks below its minimum. A
routed service also: its targets' 5xx rate, unhealthy targets, and the 99th percentile of
its targets' response time, over every target group it serves from (two during a
traffic-shifting release). The alarms that mean "this release is bad" are marked `release`:
the ECS service watches them during a deployment and rolls back when one fires.

Metric names, namespaces, dimensions and units are AWS's:
- AWS/ECS CPUUtilization and MemoryUtilization (Percent; ClusterName, ServiceName; 1-minute
  periods): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html
- ECS/ContainerInsights RunningTaskCount (Count; ClusterName, ServiceName; needs Container
  Insights): https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
- AWS/ApplicationELB HTTPCode_Target_5XX_Count and RequestCount (Sum), UnHealthyHostCount,
  TargetResponseTime (Seconds; pNN) with LoadBalancer and TargetGroup, in 60-second periods
  and only while requests flow:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
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


def alarm_definitions(
    args: ServiceAlarmArgs, *, cluster_name: pulumi.Input[str], service_name: str
) -> list[AlarmDefinition]:
    service = {"ClusterName": cluster_name, "ServiceName": service_name}
    common = {
        "evaluation_periods": EVALUATION_PERIODS,
        "datapoints_to_alarm": EVALUATION_PERIODS,
    }
    alarms = [
        AlarmDefinition(
            suffix="cpu-high",
            description=f"{service_name}: average CPU at or above {args.cpu_percent}%",
            release=False,
            inputs={
                **common,
                "namespace": "AWS/ECS",
                "metric_name": "CPUUtilization",
                "dimensions": service,
                "statistic": "Average",
                "period": PERIOD_SECONDS,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                "threshold": args.cpu_percent,
                # No data: no tasks to be busy, nothing to report.
                "treat_missing_data": "notBreaching",
            },
        ),
        AlarmDefinition(
            suffix="memory-high",
            description=f"{service_name}: average memory at or above {args.memory_percent}%",
            release=False,
            inputs={
                **common,
                "namespace": "AWS/ECS",
                "metric_name": "MemoryUtilization",
                "dimensions": service,
                "statistic": "Average",
                "period": PERIOD_SECONDS,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                "threshold": args.memory_percent,
                "treat_missing_data": "notBreaching",
            },
        ),
    ]
    routed = bool(args.target_group_arn_suffixes) and args.load_balancer_arn_suffix is not None
    if args.minimum_tasks is not None and args.minimum_tasks > 0:
        alarms.append(
            AlarmDefinition(
                suffix="running-tasks-low",
                description=f"{service_name}: fewer than {args.minimum_tasks} tasks running",
                # A routed service's release is judged by its responses; one without a route
                # by whether its new tasks keep running.
                release=not routed,
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
        return alarms
    if args.http5xx_percent is not None:
        errors = _per_target_group(args, "HTTPCode_Target_5XX_Count", "Sum", "errors")
        requests = _per_target_group(args, "RequestCount", "Sum", "requests")
        alarms.append(
            AlarmDefinition(
                suffix="5xx-rate",
                description=(
                    f"{service_name}: target 5xx responses at or above {args.http5xx_percent}% "
                    "of requests"
                ),
                release=True,
                inputs={
                    **common,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                    "threshold": args.http5xx_percent,
                    # No requests, no errors.
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
        )
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
