"""EcsService: how one microservice runs (component.py), with its inputs (args.py), how its
releases run (release.py) and its autoscaling (scaling.py). The type token stays
`microservices:ecs_service:EcsService`."""

from components.compute.ecs_service.args import (
    SCALE_IN_COOLDOWN,
    SCALE_OUT_COOLDOWN,
    SERVICE_CONNECT_LOG_PREFIX,
    AutoscalingArgs,
    ContainerArgs,
    DeploymentArgs,
    EcsServiceArgs,
    RolloutArgs,
    ServiceConnectArgs,
    TargetGroupArgs,
)
from components.compute.ecs_service.component import (
    LOAD_BALANCER_INFRASTRUCTURE_POLICY,
    EcsService,
)
from components.compute.ecs_service.release import (
    PROVIDER_DEFAULT_WAIT_MINUTES,
    RELEASE_WAIT_FACTOR,
    RELEASE_WAIT_SLACK_SECONDS,
    LiveGroups,
    deployment_alarms,
    deployment_configuration,
    infrastructure_trust_policy,
    release_settings,
    release_wait_minutes,
    service_connect_configuration,
    serving_group,
)
from components.compute.ecs_service.scaling import autoscaling

__all__ = [
    "LOAD_BALANCER_INFRASTRUCTURE_POLICY",
    "PROVIDER_DEFAULT_WAIT_MINUTES",
    "RELEASE_WAIT_FACTOR",
    "RELEASE_WAIT_SLACK_SECONDS",
    "SCALE_IN_COOLDOWN",
    "SCALE_OUT_COOLDOWN",
    "SERVICE_CONNECT_LOG_PREFIX",
    "AutoscalingArgs",
    "ContainerArgs",
    "DeploymentArgs",
    "EcsService",
    "EcsServiceArgs",
    "LiveGroups",
    "RolloutArgs",
    "ServiceConnectArgs",
    "TargetGroupArgs",
    "autoscaling",
    "deployment_alarms",
    "deployment_configuration",
    "infrastructure_trust_policy",
    "release_settings",
    "release_wait_minutes",
    "service_connect_configuration",
    "serving_group",
]
