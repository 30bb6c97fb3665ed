"""EcsService's inputs, in the order the component uses them: the container, the target group,
Service Connect, the rollout, the deployment, autoscaling, and the service as a whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import pulumi

from components.compute import release_time
from components.compute.cluster import CapacityProviderShare
from components.compute.image import ServiceImageArgs
from components.data.table import ServiceTableArgs
from components.events import EventQueueArgs, EventRelayArgs
from components.observability.alarms import ServiceAlarmArgs
from components.observability.tracing import CollectorArgs

SCALE_OUT_COOLDOWN = 60
SCALE_IN_COOLDOWN = 300


SERVICE_CONNECT_LOG_PREFIX = "service-connect"


@dataclass(frozen=True, kw_only=True)
class ContainerArgs:
    """The one container the task definition is built from."""

    image: str
    cpu: int
    memory: int
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    secrets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Variable name -> Secrets Manager secret or SSM parameter ARN."""
    secret_kms_keys: Sequence[str] = ()
    """Customer-managed KMS keys the secrets are encrypted with; the agent may decrypt them."""
    user: str | None = None
    prepare_tmp: bool = True
    """For a non-root user, make /tmp writable with a short root init container first. Not
    needed for images that declare `VOLUME /tmp` owned by their user."""
    stop_timeout: int = 30
    log_group_name: pulumi.Input[str]
    """The endpoint's log group."""
    log_group_arn: pulumi.Input[str]
    family: str | None = None
    """The task definition family; defaults to the component's name. Families are shared by
    the whole account and region, so a family name should carry the project and stack."""
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    build: ServiceImageArgs | None = None
    """Build the image into a repository of the service's own; `image` is then unused."""
    table: ServiceTableArgs | None = None
    """Give the service a DynamoDB table of its own, named in TABLE_NAME."""
    collector: CollectorArgs | None = None
    """Run a trace collector beside the application, with this share of the task."""
    relay: EventRelayArgs | None = None
    """Relay the table's changes to the service's event topic (needs `table`, whose stream the
    relay reads)."""
    events_queue: EventQueueArgs | None = None
    """Receive events on a queue of the service's own, named in EVENTS_QUEUE_URL."""

    def __post_init__(self) -> None:
        if self.relay is not None and (self.table is None or not self.table.stream):
            raise ValueError("ContainerArgs.relay needs a table with its stream on")


@dataclass(frozen=True, kw_only=True)
class TargetGroupArgs:
    """Register the service's tasks in a target group behind the ALB."""

    target_group_arn: pulumi.Input[str]
    load_balancer_arn_suffix: pulumi.Input[str] | None = None
    target_group_arn_suffix: pulumi.Input[str] | None = None
    """Both suffixes are needed to scale on ALB requests per target."""
    alternate_target_group_arn: pulumi.Input[str] | None = None
    alternate_target_group_arn_suffix: pulumi.Input[str] | None = None
    production_listener_rule_arn: pulumi.Input[str] | None = None
    """The rule whose weights ECS shifts between the two groups in a traffic-shifting
    release; needed, with the alternate group, by every strategy but rolling."""
    health_check_interval: int = release_time.DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS
    healthy_threshold: int = release_time.DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = release_time.DEFAULT_UNHEALTHY_THRESHOLD
    deregistration_delay: int = release_time.DEFAULT_DEREGISTRATION_DELAY_SECONDS
    """The groups' settings that time a release (how long pulumi up waits for one)."""


@dataclass(frozen=True, kw_only=True)
class ServiceConnectArgs:
    """Join ECS Service Connect: ECS adds a proxy to each task, creates the Cloud Map service
    `discovery_name` in the namespace, and the namespace's other services reach this one at
    `dns_name:port` through their own proxies."""

    namespace: pulumi.Input[str]
    """The Cloud Map namespace's ARN; any namespace type will do."""
    port_name: str
    """The name of the container's port mapping."""
    discovery_name: str
    dns_name: str
    """The client alias callers use: `<discovery name>.<namespace>`, as their URLs say."""
    port: int
    per_request_timeout_seconds: int
    log_group_name: pulumi.Input[str]
    """The proxy logs to the service's log group, under its own stream prefix."""
    log_stream_prefix: str = SERVICE_CONNECT_LOG_PREFIX
    proxy_memory: int
    """MiB the task keeps for the proxy ECS adds when container limits are set (the stack
    config's rules size it)."""


@dataclass(frozen=True, kw_only=True)
class RolloutArgs:
    """How ECS releases a new revision (the service's deploymentConfiguration)."""

    strategy: Literal["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"] = "ROLLING"
    bake_time_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_time_minutes: int | None = None
    step_percent: float | None = None
    step_bake_time_minutes: int | None = None

    @property
    def shifts_traffic(self) -> bool:
        return self.strategy != "ROLLING"


@dataclass(frozen=True, kw_only=True)
class DeploymentArgs:
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    health_check_grace_period: int = 60
    """Seconds; applies only to services behind a load balancer."""
    wait_for_steady_state: bool = True
    """Make the deploy wait for the service to be stable, and fail if its rollout fails."""


@dataclass(frozen=True, kw_only=True)
class AutoscalingArgs:
    min_count: int
    max_count: int
    cpu_target: int = 60
    memory_target: int | None = None
    requests_per_target: int | None = None
    scale_out_cooldown: int = SCALE_OUT_COOLDOWN
    scale_in_cooldown: int = SCALE_IN_COOLDOWN


@dataclass(frozen=True, kw_only=True)
class EcsServiceArgs:
    service_name: str
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets; tasks never get a public IP."""
    security_group_id: pulumi.Input[str]
    """The endpoint's security group."""
    container_name: str
    container_port: int
    region: str
    container: ContainerArgs | None = None
    """Build the task definition from this container..."""
    task_definition_arn: pulumi.Input[str] | None = None
    """...or run an existing task definition."""
    account_id: pulumi.Input[str] | None = None
    """Restricts the task role's trust to tasks of this account."""
    partition: pulumi.Input[str] = "aws"
    desired_count: int = 1
    """With autoscaling, only the initial count: later changes are ignored."""
    capacity_provider_strategy: Sequence[CapacityProviderShare] = (
        CapacityProviderShare(provider="FARGATE", weight=1),
    )
    deployment: DeploymentArgs = DeploymentArgs()
    discovery_service_arn: pulumi.Input[str] | None = None
    """Register tasks in this Cloud Map service."""
    target_group: TargetGroupArgs | None = None
    autoscaling: AutoscalingArgs | None = None
    task_permissions: Sequence[Mapping[str, Sequence[str]]] = ()
    """`{"actions": [...], "resources": [...]}` the application may use; none by default."""
    rollout: RolloutArgs = RolloutArgs()
    alarms: ServiceAlarmArgs | None = None
    service_connect: ServiceConnectArgs | None = None
    start_after: Sequence[pulumi.Resource] = ()
    """Create these first: under Service Connect, the services this one calls, since a task
    resolves only the endpoints that exist when it starts."""

    def __post_init__(self) -> None:
        tg = self.target_group
        if self.rollout.shifts_traffic and (
            (tg is None and self.service_connect is None)
            or (
                tg is not None
                and (
                    tg.alternate_target_group_arn is None or tg.production_listener_rule_arn is None
                )
            )
        ):
            raise ValueError(
                f"the {self.rollout.strategy} strategy needs target_group with an alternate "
                "target group and the production listener rule, or service_connect"
            )
        if (self.container is None) == (self.task_definition_arn is None):
            raise ValueError("EcsServiceArgs needs exactly one of container, task_definition_arn")
        tg = self.target_group
        if (
            self.autoscaling is not None
            and self.autoscaling.requests_per_target is not None
            and (
                tg is None
                or tg.load_balancer_arn_suffix is None
                or tg.target_group_arn_suffix is None
            )
        ):
            raise ValueError(
                "autoscaling on requests per target needs target_group with both ARN suffixes"
            )
