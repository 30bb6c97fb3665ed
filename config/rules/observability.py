"""Alerts, logs, and room in a task for the trace collector."""

from __future__ import annotations

import re
from collections.abc import Mapping

from config.issues import Findings, rm_command, set_command, show
from config.limits import (
    FARGATE_MEMORY_BY_CPU,
    LOG_RETENTION_DAYS,
    SERVICE_CONNECT_PROXY_MEMORY,
)
from config.rules.common import _nearest_at_least
from config.schema import (
    AlertsConfig,
    LogsConfig,
    ObservabilityConfig,
    ServiceConfig,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_alerts(alerts: AlertsConfig, findings: Findings) -> None:
    for index, email in enumerate(alerts.emails):
        path = f"alerts.emails[{index}]"
        if not EMAIL.match(email):
            findings.error(
                path,
                f"{show(email)} is not an email address (allowed: name@domain, which AWS sends "
                "a confirmation to)",
                set_command(path, "ops@<your-domain>"),
            )
        elif email in alerts.emails[:index]:
            findings.error(
                path, f"{show(email)} is listed twice (allowed: each once)", rm_command(path)
            )


def check_logs(logs: LogsConfig, findings: Findings) -> None:
    if logs.retention_days not in LOG_RETENTION_DAYS:
        findings.error(
            "logs.retentionDays",
            f"{logs.retention_days} is not a CloudWatch Logs retention period "
            f"(allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})",
            set_command(
                "logs.retentionDays", _nearest_at_least(logs.retention_days, LOG_RETENTION_DAYS)
            ),
        )


def check_collector_room(
    services: Mapping[str, ServiceConfig],
    observability: ObservabilityConfig,
    *,
    production: bool,
    service_connect: bool = False,
    findings: Findings,
) -> None:
    """With tracing on, each task's collector takes its CPU and memory out of the task's (and,
    under Service Connect, the proxy its memory); the application keeps at least as much of
    each as the collector."""
    if not (production if observability.tracing is None else observability.tracing):
        return
    proxy = SERVICE_CONNECT_PROXY_MEMORY if service_connect else 0
    shares = (
        ("cpu", "collectorCpu", observability.collector_cpu, "CPU units"),
        ("memory", "collectorMemory", observability.collector_memory, "MiB"),
    )
    for name in sorted(services):
        svc = services[name]
        if svc.cpu not in FARGATE_MEMORY_BY_CPU:
            continue  # already reported as a bad size
        for key, collector_key, collector, unit in shares:
            size: int = getattr(svc, key)
            reserved = collector + (proxy if key == "memory" else 0)
            if size - reserved >= collector:
                continue
            allowed = (
                tuple(FARGATE_MEMORY_BY_CPU) if key == "cpu" else FARGATE_MEMORY_BY_CPU[svc.cpu]
            )
            findings.error(
                f"services.{name}.{key}",
                f"{size} leaves the application {size - reserved} {unit} beside the trace "
                f"collector's {collector} (observability.{collector_key})"
                + (f" and the Service Connect proxy's {proxy}" if reserved != collector else "")
                + f" (allowed: at least {reserved + collector}, so that the application keeps "
                f"as much as the collector, or a smaller observability.{collector_key}, or "
                "observability.tracing false)",
                set_command(
                    f"services.{name}.{key}", _nearest_at_least(reserved + collector, allowed)
                ),
            )
