"""The validated settings the program runs on: plain frozen data, no resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from config.calls import callers_of
from config.contract import PlatformContract
from config.events import subscriptions
from config.limits import SPOT_ARCHITECTURES
from config.schema import (
    PER_REQUEST_TIMEOUT_DEFAULT,
    AlertsConfig,
    AutoscalingConfig,
    CapacityProviderConfig,
    ClusterConfig,
    DeploymentConfig,
    DiscoveryConfig,
    DiscoveryMode,
    Environment,
    LoadBalancerConfig,
    LogsConfig,
    NetworkConfig,
    ObservabilityConfig,
    ServiceConfig,
    TeardownConfig,
)
from services import ServiceSpec


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """A service's alarm thresholds, the environment's defaults under its own config."""

    rollback: bool
    """The release alarms roll a deployment back (ECS deployment alarms)."""
    cpu_percent: int
    memory_percent: int
    http5xx_percent: float
    unhealthy_hosts: int
    latency_p99_ms: int


# Per environment: production pages early and rolls back; development tolerates more and only
# notifies, so that experiments are not rolled back under their authors.
ALARM_DEFAULTS: Mapping[str, AlarmSettings] = MappingProxyType(
    {
        "production": AlarmSettings(
            rollback=True,
            cpu_percent=85,
            memory_percent=85,
            http5xx_percent=5.0,
            unhealthy_hosts=1,
            latency_p99_ms=1000,
        ),
        "development": AlarmSettings(
            rollback=False,
            cpu_percent=90,
            memory_percent=90,
            http5xx_percent=10.0,
            unhealthy_hosts=1,
            latency_p99_ms=2000,
        ),
    }
)

TRAFFIC_SHIFTING = ("blueGreen", "linear", "canary")
# ECS's defaults (CanaryConfiguration, LinearConfiguration in the ECS API reference).
CANARY_PERCENT_DEFAULT = 5.0
CANARY_BAKE_MINUTES_DEFAULT = 10
STEP_PERCENT_DEFAULT = 10.0
STEP_BAKE_MINUTES_DEFAULT = 6
# The release alarms need 3 one-minute periods to fire; a bake leaves them 2 more minutes.
BAKE_MINUTES_DEFAULT = 5


@dataclass(frozen=True, kw_only=True)
class RolloutSettings:
    """How ECS rolls out a release: `rolling` replaces tasks; the others shift load balancer
    traffic from the running revision to the new one and bake before they finish."""

    strategy: Literal["rolling", "blueGreen", "linear", "canary"] = "rolling"
    bake_time_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_time_minutes: int | None = None
    step_percent: float | None = None
    step_bake_time_minutes: int | None = None

    @property
    def shifts_traffic(self) -> bool:
        return self.strategy in TRAFFIC_SHIFTING


def rollout(config: ServiceConfig) -> RolloutSettings:
    deployment = config.deployment
    if deployment.strategy == "rolling":
        return RolloutSettings()
    canary = deployment.strategy == "canary"
    linear = deployment.strategy == "linear"
    return RolloutSettings(
        strategy=deployment.strategy,
        bake_time_minutes=(
            deployment.bake_time_minutes
            if deployment.bake_time_minutes is not None
            else BAKE_MINUTES_DEFAULT
        ),
        canary_percent=(deployment.canary_percent or CANARY_PERCENT_DEFAULT) if canary else None,
        canary_bake_time_minutes=(
            (
                deployment.canary_bake_time_minutes
                if deployment.canary_bake_time_minutes is not None
                else CANARY_BAKE_MINUTES_DEFAULT
            )
            if canary
            else None
        ),
        step_percent=(deployment.step_percent or STEP_PERCENT_DEFAULT) if linear else None,
        step_bake_time_minutes=(
            (
                deployment.step_bake_time_minutes
                if deployment.step_bake_time_minutes is not None
                else STEP_BAKE_MINUTES_DEFAULT
            )
            if linear
            else None
        ),
    )


def alarm_settings(config: ServiceConfig, environment: str) -> AlarmSettings:
    defaults = ALARM_DEFAULTS[environment]
    own = config.alarms.model_dump(exclude_none=True)
    return AlarmSettings(**{**defaults.__dict__, **own})


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """One microservice: its spec from `services/` merged with its stack config."""

    spec: ServiceSpec
    image: str
    user: str | None
    """The non-root uid the container runs as; None for the image's own user."""
    prepare_tmp: bool
    """Open up the /tmp volume with an init container before the application starts."""
    cpu: int
    memory: int
    desired_count: int
    """With autoscaling, the initial count, within the band."""
    autoscaling: AutoscalingConfig | None
    stop_timeout: int
    environment: Mapping[str, str]
    """The spec's variables, the callee URLs, then the stack's variables."""
    secrets: Mapping[str, str]
    secrets_kms_key_arns: tuple[str, ...]
    callers: tuple[str, ...]
    """Names of the services that call this one."""
    dns_name: str
    """Fully qualified: `<spec.discovery_name>.<namespace>`."""
    url: str
    alarms: AlarmSettings
    rollout: RolloutSettings
    build: str | None = None
    """Build the image from this directory of the project (unless config names an image)."""
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    table: bool = False
    per_request_timeout_seconds: int = PER_REQUEST_TIMEOUT_DEFAULT
    """Service Connect: how long a caller's proxy waits for this service's response."""
    publishes: tuple[str, ...] = ()
    """The events its table's stream is relayed as (docs/events.md)."""
    subscriptions: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """Publisher -> the events of it this service receives on its queue."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def routed(self) -> bool:
        return bool(self.spec.routes)


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    project: str
    stack: str
    region: str
    environment: Environment
    network: NetworkConfig
    cluster: ClusterConfig
    namespace: str
    record_ttl: int
    load_balancer: LoadBalancerConfig
    deployment: DeploymentConfig
    logs: LogsConfig
    services: tuple[ServiceSettings, ...]
    """Ordered so that every service comes after all of its callers."""
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    teardown: TeardownConfig | None = None
    """Set before `pulumi destroy`: deletion protection off, and the logs' fate chosen."""
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    """How services reach each other (mode), and Service Connect's default timeout."""
    role: Literal["all-in-one", "platform", "service"] = "all-in-one"
    """all-in-one runs everything; a platform stack declares what services share and every
    service's endpoint; a service stack runs the services it lists on its platform."""
    platform: PlatformContract | None = None
    """A service stack's platform, as it exported itself."""
    warnings: tuple[str, ...] = ()
    """Valid but surprising values, worth a look before a deploy."""

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def discovery_mode(self) -> DiscoveryMode:
        return self.discovery.mode

    @property
    def service_connect(self) -> bool:
        return self.discovery.mode == "serviceConnect"

    @property
    def tracing(self) -> bool:
        """Every task runs a collector and its application exports traces to X-Ray."""
        configured = self.observability.tracing
        return self.production if configured is None else configured

    @property
    def logs_on_destroy(self) -> Literal["fail", "keep", "delete"]:
        """What `pulumi destroy` does with logs: without a teardown choice, a bucket that
        holds logs stops it."""
        return self.teardown.logs if self.teardown is not None else "fail"

    @property
    def data_on_destroy(self) -> Literal["protect", "keep", "delete"]:
        """Tables and image repositories: protected as configured, or the teardown's choice."""
        return self.teardown.data if self.teardown is not None else "protect"

    @property
    def deletion_protection(self) -> bool:
        return self.load_balancer.deletion_protection and self.teardown is None

    @property
    def publishers(self) -> tuple[ServiceSettings, ...]:
        """The services whose table's changes are events (every catalog service is in a
        platform's or an all-in-one stack's settings)."""
        return tuple(s for s in self.services if s.publishes)

    def service(self, name: str) -> ServiceSettings:
        return next(s for s in self.services if s.name == name)

    def capacity_providers_for(
        self, service: ServiceSettings
    ) -> tuple[CapacityProviderConfig, ...]:
        """The cluster's strategy as this service can use it (no Spot for ARM64)."""
        return capacity_for(self.cluster.capacity_providers, service.cpu_architecture)


def capacity_for(
    strategy: tuple[CapacityProviderConfig, ...], architecture: str
) -> tuple[CapacityProviderConfig, ...]:
    """The capacity provider strategy a service of this CPU architecture runs on: the
    cluster's, but on FARGATE alone where Fargate Spot does not run the architecture. The
    on-demand share keeps its base (or takes Spot's); a strategy of Spot alone becomes
    FARGATE with weight 1."""
    if architecture in SPOT_ARCHITECTURES or all(p.provider == "FARGATE" for p in strategy):
        return strategy
    on_demand = next((p for p in strategy if p.provider == "FARGATE"), None)
    base = max(p.base for p in strategy)
    if on_demand is not None and on_demand.weight > 0:
        return (on_demand.model_copy(update={"base": base}),)
    return (CapacityProviderConfig(provider="FARGATE", base=base, weight=1),)


def url(spec: ServiceSpec, namespace: str) -> str:
    return f"http://{spec.discovery_name}.{namespace}:{spec.container_port}"


def merge(
    spec: ServiceSpec,
    config: ServiceConfig,
    catalog: Mapping[str, ServiceSpec],
    namespace: str,
    environment: str = "development",
    *,
    per_request_timeout_seconds: int = PER_REQUEST_TIMEOUT_DEFAULT,
) -> ServiceSettings:
    """`per_request_timeout_seconds`: the environment's (discovery.perRequestTimeoutSeconds),
    under the service's own."""
    callee_urls = {
        catalog[callee].url_variable: url(catalog[callee], namespace) for callee in spec.calls
    }
    own_image = config.image in (None, spec.image)
    band = config.autoscaling
    desired = config.desired_count
    if band is not None:
        # Application Auto Scaling would move the count into the band anyway.
        desired = min(max(desired, band.min_count), band.max_count)
    return ServiceSettings(
        spec=spec,
        image=config.image or spec.image,
        user=config.user or (spec.user if own_image else None),
        prepare_tmp=not (
            config.image_prepares_tmp
            if config.image_prepares_tmp is not None
            else (spec.image_prepares_tmp if own_image else False)
        ),
        cpu=config.cpu,
        memory=config.memory,
        desired_count=desired,
        autoscaling=band,
        stop_timeout=config.stop_timeout,
        environment=MappingProxyType({**spec.environment, **callee_urls, **config.environment}),
        secrets=MappingProxyType(dict(config.secrets)),
        secrets_kms_key_arns=config.secrets_kms_key_arns,
        callers=callers_of(spec.name, catalog),
        dns_name=f"{spec.discovery_name}.{namespace}",
        url=url(spec, namespace),
        alarms=alarm_settings(config, environment),
        rollout=rollout(config),
        build=spec.build if config.image is None else None,
        cpu_architecture=config.cpu_architecture,
        table=spec.table,
        publishes=spec.publishes,
        subscriptions=MappingProxyType(subscriptions(spec, catalog)),
        per_request_timeout_seconds=(
            config.per_request_timeout_seconds
            if config.per_request_timeout_seconds is not None
            else per_request_timeout_seconds
        ),
    )
