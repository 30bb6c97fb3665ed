"""The validated settings the program runs on: plain frozen data, no resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from config.calls import callers_of
from config.contract import PlatformContract
from config.schema import (
    AutoscalingConfig,
    ClusterConfig,
    DeploymentConfig,
    Environment,
    LoadBalancerConfig,
    LogsConfig,
    NetworkConfig,
    ServiceConfig,
    TeardownConfig,
)
from services import ServiceSpec


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
    teardown: TeardownConfig | None = None
    """Set before `pulumi destroy`: deletion protection off, and the logs' fate chosen."""
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
    def logs_on_destroy(self) -> Literal["fail", "keep", "delete"]:
        """What `pulumi destroy` does with logs: without a teardown choice, a bucket that
        holds logs stops it."""
        return self.teardown.logs if self.teardown is not None else "fail"

    @property
    def deletion_protection(self) -> bool:
        return self.load_balancer.deletion_protection and self.teardown is None

    def service(self, name: str) -> ServiceSettings:
        return next(s for s in self.services if s.name == name)


def url(spec: ServiceSpec, namespace: str) -> str:
    return f"http://{spec.discovery_name}.{namespace}:{spec.container_port}"


def merge(
    spec: ServiceSpec,
    config: ServiceConfig,
    catalog: Mapping[str, ServiceSpec],
    namespace: str,
) -> ServiceSettings:
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
    )
