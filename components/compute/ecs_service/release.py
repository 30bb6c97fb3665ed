"""How a release runs (no Pulumi resources): the deployment configuration ECS gets for the
rollout strategy, the alarms that roll it back, Service Connect's configuration, which target
group serves, how long `pulumi up` waits for a release, and the trust of the role ECS shifts
load balancer traffic with."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.compute import release_time
from components.compute.ecs_service.args import EcsServiceArgs, RolloutArgs, ServiceConnectArgs

# The provider waits 20 minutes by default for an ECS service's create and update
# (terraform-provider-aws internal/service/ecs/service.go, `Timeouts`), and with
# wait_for_steady_state its wait lasts until the service deployment is SUCCESSFUL (bake time
# included) or has rolled back. A release longer than that fails `pulumi up` while ECS carries
# on, so each service waits for its own estimate (components/compute/release_time.py) instead:
# the release at the most tasks it may run, then its rollback (a release that fails at its end
# rolls back before the deployment is over), plus half again and five minutes. The half covers
# the model's assumed task start (AWS publishes none) and the five minutes ECS's scheduling and
# the provider's polling. Never under the provider's own default.
PROVIDER_DEFAULT_WAIT_MINUTES = 20
RELEASE_WAIT_FACTOR = 1.5
RELEASE_WAIT_SLACK_SECONDS = 300


def service_connect_configuration(sc: ServiceConnectArgs, region: str) -> dict[str, Any]:
    """The service's serviceConnectConfiguration: one client-server endpoint."""
    return {
        "enabled": True,
        "namespace": sc.namespace,
        "services": [
            {
                "port_name": sc.port_name,
                "discovery_name": sc.discovery_name,
                "client_alias": [{"dns_name": sc.dns_name, "port": sc.port}],
                "timeout": {"per_request_timeout_seconds": sc.per_request_timeout_seconds},
            }
        ],
        "log_configuration": {
            "log_driver": "awslogs",
            "options": {
                "awslogs-group": sc.log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": sc.log_stream_prefix,
            },
        },
    }


def deployment_configuration(rollout: RolloutArgs) -> dict[str, Any]:
    """The service's deploymentConfiguration, sent for every strategy, rolling included.

    The provider keeps the block's old value when it is left out (Optional and Computed in
    terraform-provider-aws internal/service/ecs/service.go), so a service leaving canary must
    say ROLLING. The bake time and the canary and linear settings are sent only with the
    strategies that use them (ECS takes them for those); left out, they keep their old values,
    which no other strategy reads (offline/change/sticky.py lists them)."""
    if not rollout.shifts_traffic:
        return {"strategy": rollout.strategy}
    configuration: dict[str, Any] = {
        "strategy": rollout.strategy,
        # The provider takes the minutes as strings.
        "bake_time_in_minutes": str(rollout.bake_time_minutes),
    }
    if rollout.strategy == "CANARY":
        configuration["canary_configuration"] = {
            "canary_percent": rollout.canary_percent,
            "canary_bake_time_in_minutes": str(rollout.canary_bake_time_minutes),
        }
    if rollout.strategy == "LINEAR":
        configuration["linear_configuration"] = {
            "step_percent": rollout.step_percent,
            "step_bake_time_in_minutes": str(rollout.step_bake_time_minutes),
        }
    return configuration


def deployment_alarms(
    release_alarms: Sequence[pulumi.Input[str]],
    other_alarms: Sequence[pulumi.Input[str]],
    *,
    rollback: bool,
) -> dict[str, Any] | None:
    """The service's alarms block, sent whatever the choice: the provider sends nothing when
    the block is left out (a missing block's diff is suppressed), so ECS would keep rolling
    back after rollback was turned off. `alarm_names` is required, so a service without
    release alarms names its others, watched by nothing."""
    watching = bool(release_alarms) and rollback
    names = list(release_alarms) or list(other_alarms)
    if not names:
        return None
    return {"alarm_names": names, "enable": watching, "rollback": watching}


@dataclass(frozen=True, kw_only=True)
class LiveGroups:
    serving_arn: pulumi.Output[str]
    """The group the production rule sends traffic to: the service registers there."""
    standby_arn: pulumi.Output[str] | None
    """The other group, which a traffic-shifting release fills."""
    serving_suffix: pulumi.Output[str] | None


def serving_group(actions: Any, primary: str, alternate: str) -> str:
    """The group of the two that a rule's forward action gives the most weight (the primary on
    a tie, or for a rule not read); a rule forwards all of it to one group after any finished
    release."""
    weights = {primary: 0, alternate: 0}
    for action in actions or []:
        for forward in _get(action, "forwards") or []:
            for group in _get(forward, "target_groups") or []:
                arn, weight = _get(group, "arn"), _get(group, "weight")
                if arn in weights and isinstance(weight, int | float):
                    weights[arn] += weight
    return alternate if weights[alternate] > weights[primary] else primary


def _get(value: Any, key: str) -> Any:
    """A field of an invoke result, as an object or as a plain mapping."""
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def release_settings(args: EcsServiceArgs) -> release_time.ServiceSettings:
    """What the release-time model needs, from the service's own arguments, at the most tasks
    it may run (a release then takes longest)."""
    tg = args.target_group
    rollout = args.rollout
    band = args.autoscaling
    container = args.container
    return release_time.ServiceSettings(
        strategy=rollout.strategy,
        desired_count=max(args.desired_count, band.max_count if band is not None else 0),
        minimum_healthy_percent=args.deployment.minimum_healthy_percent,
        maximum_percent=args.deployment.maximum_percent,
        load_balanced=tg is not None,
        target_group=(
            release_time.TargetGroupSettings(
                interval=tg.health_check_interval,
                healthy_threshold=tg.healthy_threshold,
                unhealthy_threshold=tg.unhealthy_threshold,
                deregistration_delay=tg.deregistration_delay,
            )
            if tg is not None
            else None
        ),
        health_check_grace_period=args.deployment.health_check_grace_period if tg else 0,
        stop_timeout=container.stop_timeout if container is not None else 30,
        bake_time_minutes=rollout.bake_time_minutes or 0,
        canary_percent=rollout.canary_percent or release_time.DEFAULT_CANARY_PERCENT,
        canary_bake_minutes=(
            rollout.canary_bake_time_minutes
            if rollout.canary_bake_time_minutes is not None
            else release_time.DEFAULT_CANARY_BAKE_MINUTES
        ),
        step_percent=rollout.step_percent or release_time.DEFAULT_STEP_PERCENT,
        step_bake_minutes=(
            rollout.step_bake_time_minutes
            if rollout.step_bake_time_minutes is not None
            else release_time.DEFAULT_STEP_BAKE_MINUTES
        ),
        service_connect=args.service_connect is not None,
    )


def release_wait_minutes(settings: release_time.ServiceSettings) -> int:
    """How long `pulumi up` waits for one release of the service (see the constants above)."""
    estimate = release_time.estimate(settings)
    worst = (estimate.release_done_seconds or 0) + (estimate.rollback_done_seconds or 0)
    minutes = math.ceil((worst * RELEASE_WAIT_FACTOR + RELEASE_WAIT_SLACK_SECONDS) / 60)
    return max(PROVIDER_DEFAULT_WAIT_MINUTES, minutes)


def infrastructure_trust_policy() -> dict[str, Any]:
    """ECS may assume the role that shifts load balancer traffic in blue/green, linear and
    canary deployments (the trust policy AWS documents for the Amazon ECS infrastructure role
    for load balancers). AWS documents no aws:SourceAccount or aws:SourceArn condition for
    this trust, on that page or on the infrastructure role's
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html,
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/infrastructure_IAM_role.html),
    so none is set: a condition ECS does not satisfy would stop every release."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
