"""What production asks for beyond the other rules, and what a teardown keeps."""

from __future__ import annotations

from collections.abc import Mapping

from config.issues import Findings, rm_command, set_command, show
from config.schema import (
    ClusterConfig,
    LoadBalancerConfig,
    ServiceConfig,
    TeardownConfig,
)
from services import ServiceSpec


def note_teardown(
    teardown: TeardownConfig, lb: LoadBalancerConfig | None, findings: Findings
) -> None:
    """The stack is being prepared for `pulumi destroy`: say what that turns off."""
    fate = {
        "keep": "leaves the access-log bucket, the log groups and their key in the account",
        "delete": "deletes the access logs (every version), the log groups and their key",
    }[teardown.logs]
    protection = (
        "the load balancer's deletion protection is off, and "
        if lb is not None and lb.deletion_protection
        else ""
    )
    findings.warn(
        "teardown.logs",
        f"{show(teardown.logs)} prepares this stack for `pulumi destroy`: {protection}a "
        f"destroy {fate} (allowed: keep, delete; remove the key to run the stack normally)",
        rm_command("teardown"),
    )


def check_production(
    services: Mapping[str, ServiceConfig],
    catalog: Mapping[str, ServiceSpec],
    cluster: ClusterConfig,
    findings: Findings,
) -> None:
    """Production needs a non-root user for every service (Security Hub ECS.20); and warnings:
    valid, but not what production usually wants."""
    for name in sorted(catalog):
        svc = services.get(name, ServiceConfig())
        own_image = svc.image in (None, catalog[name].image)
        # (A custom image without a user is an error for every stack already.)
        if svc.user is None and own_image and catalog[name].user is None:
            findings.error(
                f"services.{name}.user",
                "is required in production: containers run as a non-root user (allowed: the "
                "numeric uid the image runs as)",
                set_command(f"services.{name}.user", "10001"),
            )
        fewest = svc.autoscaling.min_count if svc.autoscaling else svc.desired_count
        if fewest < 2:
            key = "autoscaling.minCount" if svc.autoscaling else "desiredCount"
            findings.warn(
                f"services.{name}.{key}",
                f"{fewest} lets {name} run on a single task, which one AZ's outage or one "
                "task's failure takes down (allowed: any count; 2 or more spread tasks over AZs)",
                set_command(f"services.{name}.{key}", 2),
            )
    for name in sorted(services):
        if services[name].alarms.rollback is False:
            findings.warn(
                f"services.{name}.alarms.rollback",
                "false in production: a release that raises errors or latency stays out until "
                "someone rolls it back by hand (allowed: true, false)",
                rm_command(f"services.{name}.alarms.rollback"),
            )
    if cluster.container_insights == "disabled":
        findings.warn(
            "cluster.containerInsights",
            '"disabled" in production: the running-task alarms read Container Insights '
            "metrics, so they are not created (allowed: enabled, enhanced)",
            set_command("cluster.containerInsights", "enhanced"),
        )
    for index, share in enumerate(cluster.capacity_providers):
        if share.provider == "FARGATE_SPOT" and share.weight > 0:
            findings.warn(
                f"cluster.capacityProviders[{index}]",
                "FARGATE_SPOT in production: Spot tasks can be stopped at two minutes' notice "
                "when AWS needs the capacity back (allowed: FARGATE only, or Spot beside an "
                "on-demand base)",
                rm_command(f"cluster.capacityProviders[{index}]"),
            )
