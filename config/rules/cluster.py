"""The cluster and how services are deployed on it: capacity providers, deployment settings,
Spot draining, CPU architectures and capacity."""

from __future__ import annotations

from collections.abc import Mapping

from config.issues import Findings, rm_command, set_command, show
from config.limits import (
    FARGATE_SPOT_WARNING_SECONDS,
    SPOT_ARCHITECTURES,
)
from config.schema import (
    ClusterConfig,
    DeploymentConfig,
    ServiceConfig,
)


def check_cluster(cluster: ClusterConfig, findings: Findings) -> None:
    strategy = cluster.capacity_providers
    path = "cluster.capacityProviders"
    if not strategy:
        findings.error(
            path,
            "is empty (allowed: at least one of FARGATE, FARGATE_SPOT)",
            set_command(f"{path}[0].provider", "FARGATE"),
        )
        return
    names = [p.provider for p in strategy]
    for index, name in enumerate(names):
        if name in names[:index]:
            findings.error(
                f"{path}[{index}].provider",
                f"{show(name)} is listed twice (allowed: each provider once)",
                rm_command(f"{path}[{index}]"),
            )
    with_base = [i for i, p in enumerate(strategy) if p.base > 0]
    for index in with_base[1:]:
        findings.error(
            f"{path}[{index}].base",
            f"{strategy[index].base} is a second base (allowed: only one capacity provider in a "
            "strategy may set base)",
            set_command(f"{path}[{index}].base", 0),
        )
    if all(p.weight == 0 for p in strategy):
        findings.error(
            f"{path}[0].weight",
            "0 leaves every weight at 0 (allowed: at least one weight > 0)",
            set_command(f"{path}[0].weight", 1),
        )


def check_deployment(deployment: DeploymentConfig, *, any_routed: bool, findings: Findings) -> None:
    if deployment.health_check_timeout >= deployment.health_check_interval:
        findings.error(
            "deployment.healthCheckTimeout",
            f"{deployment.health_check_timeout} is not shorter than healthCheckInterval "
            f"{deployment.health_check_interval}: ELB requires a target group's health check "
            "timeout to be shorter than its interval (allowed: timeout < interval)",
            set_command(
                "deployment.healthCheckTimeout", max(2, deployment.health_check_interval - 1)
            ),
        )
    needed = deployment.healthy_threshold * deployment.health_check_interval
    if any_routed and deployment.health_check_grace_period < needed:
        findings.error(
            "deployment.healthCheckGracePeriod",
            f"{deployment.health_check_grace_period} is shorter than the {needed} s a new task "
            f"needs to pass {deployment.healthy_threshold} health checks "
            f"{deployment.health_check_interval} s apart, so ECS could replace healthy tasks "
            "that are still starting (allowed: >= healthyThreshold x healthCheckInterval)",
            set_command("deployment.healthCheckGracePeriod", needed),
        )
    if deployment.minimum_healthy_percent == 100 and deployment.maximum_percent == 100:
        findings.error(
            "deployment.maximumPercent",
            "100 with minimumHealthyPercent 100 leaves ECS no room to start a new task or stop "
            "an old one, so a deployment cannot proceed (allowed: maximumPercent > 100 when "
            "minimumHealthyPercent is 100)",
            set_command("deployment.maximumPercent", 200),
        )


def check_draining(
    deployment: DeploymentConfig,
    cluster: ClusterConfig,
    *,
    any_routed: bool,
    findings: Findings,
) -> None:
    """Draining must fit the time a task has left. ECS drains a stopping task's targets before
    it signals the container, except on a Fargate Spot interruption: the task then has two
    minutes from the warning, whatever the deregistration delay."""
    spot = any(p.provider == "FARGATE_SPOT" and p.weight > 0 for p in cluster.capacity_providers)
    delay = deployment.deregistration_delay
    if any_routed and spot and delay > FARGATE_SPOT_WARNING_SECONDS:
        findings.error(
            "deployment.deregistrationDelay",
            f"{delay} is longer than the {FARGATE_SPOT_WARNING_SECONDS} s a Fargate Spot task "
            "has between its interruption warning and its stop, so draining would be cut off "
            f"(allowed: <= {FARGATE_SPOT_WARNING_SECONDS} with FARGATE_SPOT capacity)",
            set_command("deployment.deregistrationDelay", FARGATE_SPOT_WARNING_SECONDS),
        )


def check_architecture_capacity(
    services: Mapping[str, ServiceConfig], cluster: ClusterConfig, findings: Findings
) -> None:
    """A service whose CPU architecture Fargate Spot does not run keeps to FARGATE: valid, but
    it costs the on-demand price and the cluster's Spot share does not apply to it."""
    spot = [
        index
        for index, share in enumerate(cluster.capacity_providers)
        if share.provider == "FARGATE_SPOT" and (share.weight > 0 or share.base > 0)
    ]
    if not spot:
        return
    for name in sorted(services):
        architecture = services[name].cpu_architecture
        if architecture in SPOT_ARCHITECTURES:
            continue
        findings.warn(
            f"services.{name}.cpuArchitecture",
            f'{show(architecture)} does not run on Fargate Spot (AWS: "Linux tasks with the '
            f"ARM64 architecture don't support the Fargate Spot capacity provider\"), so {name} "
            f"runs on FARGATE only, at the on-demand price, whatever "
            f"cluster.capacityProviders[{spot[0]}] (FARGATE_SPOT) asks "
            "(allowed: ARM64 on FARGATE, or X86_64 to use Spot)",
            set_command(f"services.{name}.cpuArchitecture", "X86_64"),
        )
