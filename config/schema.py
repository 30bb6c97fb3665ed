"""The stack-config schema: one pydantic model per block under the `microservices:` namespace.

Keys are camelCase, unknown keys are errors, and every key has a default, so a stack file
holds only what differs. Ranges here are the structural limits; rules that relate fields to
each other or to AWS's tables live in `config.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from config.issues import scalar_text
from config.limits import (
    AZ_BLOCK_PREFIX,
    FARGATE_STOP_TIMEOUT_MAX,
    HEALTH_CHECK_INTERVAL,
    HEALTH_CHECK_THRESHOLD,
    HEALTH_CHECK_TIMEOUT,
)

# Text that `pulumi config set --path` may have stored as a number or boolean.
ScalarText = Annotated[str, BeforeValidator(scalar_text)]

Environment = Literal["development", "production"]
DiscoveryMode = Literal["cloudMapDns", "serviceConnect"]


class Block(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )


class NetworkConfig(Block):
    cidr_block: str = "10.20.0.0/16"
    availability_zones: int = Field(default=2, ge=2, le=6)
    """An ALB needs subnets in at least two AZs."""
    availability_zone_cidr_mask: int = Field(default=AZ_BLOCK_PREFIX, ge=16, le=AZ_BLOCK_PREFIX)
    """The prefix of each AZ's block of the VPC: fixed, so that adding an AZ only adds
    subnets. Stacks from before it was fixed keep their layout with awsx's old block size."""
    nat_gateways: Literal["single", "perAz"] = "single"
    flow_logs: bool = False
    """Record the VPC's traffic in CloudWatch Logs (a new VPC only)."""
    vpc_id: str | None = None
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()

    @property
    def uses_existing_vpc(self) -> bool:
        return self.vpc_id is not None


class CapacityProviderConfig(Block):
    provider: Literal["FARGATE", "FARGATE_SPOT"]
    base: int = Field(default=0, ge=0, le=100000)
    weight: int = Field(default=0, ge=0, le=1000)


class ClusterConfig(Block):
    container_insights: Literal["enabled", "enhanced", "disabled"] = "enabled"
    capacity_providers: tuple[CapacityProviderConfig, ...] = (
        CapacityProviderConfig(provider="FARGATE", base=1, weight=1),
    )


# ECS Service Connect timeouts: 0..2147483647 seconds, 0 turning the timeout off
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TimeoutConfiguration.html).
# The default is the project's: longer than the callers' own timeouts in services/ (2-3 s),
# so that a caller's timeout answers first and the proxy's only ends what nothing else does.
TIMEOUT_SECONDS_MAX = 2147483647
PER_REQUEST_TIMEOUT_DEFAULT = 10


class DiscoveryConfig(Block):
    namespace: str | None = None
    """Defaults to `<stack>.internal`."""
    record_ttl: int = Field(default=10, ge=0, le=2147483647)
    mode: DiscoveryMode = "cloudMapDns"
    """How services reach each other: Cloud Map DNS records in the namespace, or ECS Service
    Connect (a proxy in every task, request metrics, traffic-shifting releases) on the same
    namespace. Callers' URLs are the same in both."""
    per_request_timeout_seconds: int = Field(
        default=PER_REQUEST_TIMEOUT_DEFAULT, ge=0, le=TIMEOUT_SECONDS_MAX
    )
    """serviceConnect: how long a caller's proxy waits for a service's complete response; 0
    turns the timeout off. Per service: services.<name>.perRequestTimeoutSeconds."""
    leaving_service_connect: bool = False
    """cloudMapDns, for the `pulumi up` that leaves serviceConnect: each service releases after
    its callers, so that no caller is left on a proxy whose callee has left Service Connect."""


class LoadBalancerConfig(Block):
    certificate_arn: str | None = None
    domain_name: str | None = None
    """The name clients use (pointed at the ALB); the certificate covers it."""
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    deletion_protection: bool = False
    access_logs: bool = False
    waf: bool = False
    """AWS WAF with AWS managed rule groups in front of the ALB."""

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None


class DeploymentConfig(Block):
    minimum_healthy_percent: int = Field(default=50, ge=0, le=100)
    # ECS's default; the project does not go beyond doubling a service during a deploy.
    maximum_percent: int = Field(default=200, ge=100, le=200)
    deregistration_delay: int = Field(default=5, ge=0, le=3600)
    health_check_grace_period: int = Field(default=30, ge=0, le=2147483647)
    health_check_interval: int = Field(
        default=10, ge=HEALTH_CHECK_INTERVAL[0], le=HEALTH_CHECK_INTERVAL[1]
    )
    health_check_timeout: int = Field(
        default=5, ge=HEALTH_CHECK_TIMEOUT[0], le=HEALTH_CHECK_TIMEOUT[1]
    )
    healthy_threshold: int = Field(
        default=2, ge=HEALTH_CHECK_THRESHOLD[0], le=HEALTH_CHECK_THRESHOLD[1]
    )
    unhealthy_threshold: int = Field(
        default=3, ge=HEALTH_CHECK_THRESHOLD[0], le=HEALTH_CHECK_THRESHOLD[1]
    )
    wait_for_steady_state: bool = True
    """`pulumi up` waits until each changed service is stable, so a failed rollout fails it."""


class LogsConfig(Block):
    retention_days: int = 7
    kms_encryption: bool = False
    """Encrypt the log groups with a customer-managed KMS key the stack creates."""


class ObservabilityConfig(Block):
    tracing: bool | None = None
    """OpenTelemetry traces from every task to AWS X-Ray, through a collector sidecar.
    Defaults to on in production, off elsewhere."""
    sampling_ratio: float = Field(default=0.05, ge=0, le=1)
    """The share of new traces recorded; a call inside a recorded trace is always recorded.
    The default is the rate of X-Ray's own default sampling rule (5%)."""
    collector_cpu: int = Field(default=64, ge=1, le=1024)
    """CPU units of the collector, carved out of each task's."""
    collector_memory: int = Field(default=128, ge=16, le=2048)
    """MiB of the collector (its hard limit), carved out of each task's."""
    manage_transaction_search: bool = True
    """Turn on CloudWatch Transaction Search for the account and region (X-Ray's OTLP endpoint
    needs it). One stack per account and region manages it; the others set false."""


class AlertsConfig(Block):
    emails: tuple[str, ...] = ()
    """Addresses subscribed to the environment's alarm topic; each must confirm by email."""


class CostConfig(Block):
    """Usage the cost estimate assumes for this stack; an unset key takes its value from
    offline/estimates/cost/cost_assumptions.yaml, which documents each one."""

    requests_per_month: float | None = Field(default=None, ge=0)
    kb_per_request: float | None = Field(default=None, ge=0)
    requests_per_connection: float | None = Field(default=None, gt=0)
    connection_seconds: float | None = Field(default=None, ge=0)
    log_gb_per_task_month: float | None = Field(default=None, ge=0)
    log_storage_ratio: float | None = Field(default=None, ge=0)
    nat_gb_per_month: float | None = Field(default=None, ge=0)
    flow_log_gb_per_month: float | None = Field(default=None, ge=0)
    waf_log_gb_per_month: float | None = Field(default=None, ge=0)
    access_log_gb_per_month: float | None = Field(default=None, ge=0)
    table_reads_per_month: float | None = Field(default=None, ge=0)
    table_writes_per_month: float | None = Field(default=None, ge=0)
    table_gb: float | None = Field(default=None, ge=0)
    image_gb: float | None = Field(default=None, ge=0)
    container_insights_metrics_per_cluster: float | None = Field(default=None, ge=0)
    container_insights_metrics_per_service: float | None = Field(default=None, ge=0)
    events_per_month: float | None = Field(default=None, ge=0)
    relay_ms_per_event: float | None = Field(default=None, ge=0)


class TeardownConfig(Block):
    data: Literal["keep", "delete"] = "keep"
    """What `pulumi destroy` does with the services' tables and image repositories."""
    logs: Literal["keep", "delete"]
    """What `pulumi destroy` does with the access-log bucket, the log groups and their key:
    keep them in the account, or delete them with everything else."""


class AutoscalingConfig(Block):
    min_count: int = Field(ge=0)
    max_count: int = Field(ge=1)
    cpu_target: int = Field(default=60, ge=1, le=100)
    memory_target: int | None = Field(default=None, ge=1, le=100)
    requests_per_target: int | None = Field(default=None, ge=1)


class ServiceAlarmsConfig(Block):
    """A service's CloudWatch alarms; unset thresholds take the environment's defaults."""

    rollback: bool | None = None
    """Roll a deployment back when a release alarm fires (ECS deployment alarms). Defaults to
    true in production, false elsewhere."""
    cpu_percent: int | None = Field(default=None, ge=1, le=100)
    memory_percent: int | None = Field(default=None, ge=1, le=100)
    # The generated alias would read "http5XxPercent".
    http5xx_percent: float | None = Field(default=None, ge=0.1, le=100, alias="http5xxPercent")
    """Routed services: target 5xx responses as a percentage of requests."""
    unhealthy_hosts: int | None = Field(default=None, ge=1)
    """Routed services: unhealthy targets at or above this count."""
    latency_p99_ms: int | None = Field(default=None, ge=1, le=3_600_000)
    """Routed services: the 99th percentile of target response time, in milliseconds."""


class ServiceDeploymentConfig(Block):
    """How ECS rolls out a new release of one service."""

    strategy: Literal["rolling", "blueGreen", "linear", "canary"] = "rolling"
    bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)
    canary_percent: float | None = Field(default=None, ge=0.1, le=100)
    canary_bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)
    step_percent: float | None = Field(default=None, ge=3, le=100)
    step_bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)


class ServiceConfig(Block):
    image: str | None = None
    user: ScalarText | None = None
    """The uid the image runs as; required with an image other than the spec's."""
    image_prepares_tmp: bool | None = None
    """The image declares `VOLUME /tmp` owned by its user (no init container needed)."""
    cpu: int = 256
    memory: int = 512
    desired_count: int = Field(default=1, ge=0)
    autoscaling: AutoscalingConfig | None = None
    stop_timeout: int = Field(default=30, ge=0, le=FARGATE_STOP_TIMEOUT_MAX)
    """Seconds between SIGTERM and SIGKILL when a task stops."""
    environment: dict[str, ScalarText] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    secrets_kms_key_arns: tuple[str, ...] = ()
    """Customer-managed KMS keys the secrets are encrypted with."""
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    """The task's CPU architecture (ARM64: Graviton), and the platform its image is built for."""
    alarms: ServiceAlarmsConfig = ServiceAlarmsConfig()
    deployment: ServiceDeploymentConfig = ServiceDeploymentConfig()
    per_request_timeout_seconds: int | None = Field(default=None, ge=0, le=TIMEOUT_SECONDS_MAX)
    """serviceConnect: discovery.perRequestTimeoutSeconds for requests to this service."""


# Top-level keys under the `microservices:` namespace and the model of each block.
BLOCKS: Mapping[str, type[Block]] = MappingProxyType(
    {
        "network": NetworkConfig,
        "cluster": ClusterConfig,
        "discovery": DiscoveryConfig,
        "loadBalancer": LoadBalancerConfig,
        "deployment": DeploymentConfig,
        "logs": LogsConfig,
        "alerts": AlertsConfig,
        "observability": ObservabilityConfig,
        "cost": CostConfig,
    }
)
# Blocks that are absent unless set, each with its model.
OPTIONAL_BLOCKS: Mapping[str, type[Block]] = MappingProxyType({"teardown": TeardownConfig})
# How the stack runs its environment: `serviceStacks: true` makes it a platform stack,
# `platform: <org>/<project>/<stack>` a service stack of that platform; neither, all-in-one.
ROLE_KEYS = ("serviceStacks", "platform")
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "environment",
    *BLOCKS,
    *OPTIONAL_BLOCKS,
    *ROLE_KEYS,
    "services",
)
