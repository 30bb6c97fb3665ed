"""How a service's EcsService is built from validated settings and the shared values it runs
on. One function for both ways of running an environment: the all-in-one stack passes the
values of the resources it just declared, a service stack the values its platform exported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

import naming
from components.compute.cluster import CapacityProviderShare
from components.compute.ecs_service import (
    AutoscalingArgs,
    ContainerArgs,
    DeploymentArgs,
    EcsServiceArgs,
    RolloutArgs,
    ServiceConnectArgs,
    TargetGroupArgs,
)
from components.compute.image import ImageBuild, ServiceImageArgs, context_hash, image_build
from components.data.table import ServiceTableArgs
from components.events import RELAY_PACKAGE, EventQueueArgs, EventRelayArgs, EventSourceArgs
from components.observability.alarms import ServiceAlarmArgs, ServiceConnectMetricsArgs
from components.observability.tracing import CollectorArgs
from config import ServiceSettings, StackSettings
from config.events import verb
from config.limits import SERVICE_CONNECT_PROXY_MEMORY, STREAM_EVENT_VERBS


@dataclass(frozen=True, kw_only=True)
class SharedValues:
    """What every service of an environment runs on."""

    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    load_balancer_arn_suffix: pulumi.Input[str] | None
    alerts_topic_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    namespace_arn: pulumi.Input[str] | None = None
    """The Cloud Map namespace; services join it under Service Connect."""
    events: EventValues | None = None
    """The events key and each publisher's topic; None when no service publishes."""


@dataclass(frozen=True, kw_only=True)
class PublisherValues:
    """What the platform holds for one publisher (its EventTransport's outputs)."""

    topic_arn: pulumi.Input[str]
    relay_log_group_name: pulumi.Input[str]
    relay_log_group_arn: pulumi.Input[str]
    failure_queue_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class EventValues:
    key_arn: pulumi.Input[str]
    publishers: Mapping[str, PublisherValues]


@dataclass(frozen=True, kw_only=True)
class EndpointValues:
    """How one service is reached and where it logs (its ServiceEndpoint's outputs)."""

    security_group_id: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    discovery_service_arn: pulumi.Input[str] | None = None
    target_group_arn: pulumi.Input[str] | None = None
    target_group_arn_suffix: pulumi.Input[str] | None = None
    alternate_target_group_arn: pulumi.Input[str] | None = None
    alternate_target_group_arn_suffix: pulumi.Input[str] | None = None
    production_listener_rule_arn: pulumi.Input[str] | None = None


# Build contexts in service specs are relative to the project's root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RELAY_CODE = "apps/event-relay"
"""The relay's package (`event_relay`), from the project's root: the Lambda function's code."""

ECS_STRATEGIES = {
    "rolling": "ROLLING",
    "blueGreen": "BLUE_GREEN",
    "linear": "LINEAR",
    "canary": "CANARY",
}


def capacity_strategy(
    settings: StackSettings, service: ServiceSettings | None = None
) -> tuple[CapacityProviderShare, ...]:
    """The cluster's default strategy, or the one `service` runs on (no Spot for ARM64)."""
    shares = (
        settings.cluster.capacity_providers
        if service is None
        else settings.capacity_providers_for(service)
    )
    return tuple(
        CapacityProviderShare(provider=p.provider, weight=p.weight, base=p.base) for p in shares
    )


def service_component_name(settings: StackSettings, service: str) -> str:
    """Named after the environment (the platform's stack), whichever stack declares it."""
    return naming.service_component(naming.platform(settings.stack), service)


def alarm_args(
    settings: StackSettings,
    service: ServiceSettings,
    shared: SharedValues,
    endpoint: EndpointValues,
) -> ServiceAlarmArgs:
    thresholds = service.alarms
    band = service.autoscaling
    routed = endpoint.target_group_arn_suffix is not None
    # Without a route, Service Connect measures the requests its callers send it.
    through_proxies = settings.service_connect and not routed and bool(service.callers)
    # A traffic-shifting release serves from both of a service's groups, and a rolling one from
    # whichever the last such release left live (EcsService follows the rule): watch both.
    target_groups = [
        suffix
        for suffix in (
            endpoint.target_group_arn_suffix,
            endpoint.alternate_target_group_arn_suffix,
        )
        if suffix is not None
    ]
    return ServiceAlarmArgs(
        topic_arn=shared.alerts_topic_arn,
        name_prefix=naming.alarm_prefix(settings.project, settings.stack, service.name),
        rollback=thresholds.rollback,
        cpu_percent=thresholds.cpu_percent,
        memory_percent=thresholds.memory_percent,
        minimum_tasks=(
            None
            if settings.cluster.container_insights == "disabled"
            else (band.min_count if band is not None else service.desired_count)
        ),
        http5xx_percent=thresholds.http5xx_percent if routed or through_proxies else None,
        unhealthy_hosts=thresholds.unhealthy_hosts if routed else None,
        latency_p99_ms=thresholds.latency_p99_ms if routed or through_proxies else None,
        load_balancer_arn_suffix=shared.load_balancer_arn_suffix if routed else None,
        target_group_arn_suffixes=tuple(target_groups),
        service_connect=(
            ServiceConnectMetricsArgs(
                discovery_name=naming.service_connect_discovery_name(service.spec.discovery_name),
                callers=service.callers,
            )
            if through_proxies
            else None
        ),
    )


def image_args(
    settings: StackSettings, service: ServiceSettings, build: ImageBuild
) -> ServiceImageArgs:
    """The service's image: built from the apps' shared context by the one Dockerfile."""
    return ServiceImageArgs(
        context=build.context,
        dockerfile=build.dockerfile,
        build_args=build.build_args,
        context_hash=build.content_hash,
        cpu_architecture=service.cpu_architecture,
        kms_encryption=settings.production,
        delete_images_with_repository=settings.data_on_destroy == "delete",
        retain_on_delete=settings.data_on_destroy == "keep",
    )


def runtime_args(
    settings: StackSettings,
    service: ServiceSettings,
    shared: SharedValues,
    endpoint: EndpointValues,
    *,
    start_after: Sequence[pulumi.Resource] = (),
) -> EcsServiceArgs:
    """`start_after`: resources its ECS service waits for (the services it calls, under
    Service Connect)."""
    spec = service.spec
    deployment = settings.deployment
    band = service.autoscaling
    rollout = service.rollout
    return EcsServiceArgs(
        service_name=service.name,
        cluster_arn=shared.cluster_arn,
        cluster_name=shared.cluster_name,
        subnet_ids=shared.private_subnet_ids,
        security_group_id=endpoint.security_group_id,
        container_name=spec.container_name,
        container_port=spec.container_port,
        region=settings.region,
        account_id=shared.account_id,
        partition=shared.partition,
        container=ContainerArgs(
            image=service.image,
            cpu=service.cpu,
            memory=service.memory,
            # The SDKs find the region here (boto3's AWS_REGION), as locally.
            environment={"AWS_REGION": settings.region, **service.environment},
            secrets=service.secrets,
            secret_kms_keys=service.secrets_kms_key_arns,
            user=service.user,
            prepare_tmp=service.prepare_tmp,
            stop_timeout=service.stop_timeout,
            log_group_name=endpoint.log_group_name,
            log_group_arn=endpoint.log_group_arn,
            family=naming.task_family(settings.project, settings.stack, service.name),
            cpu_architecture=service.cpu_architecture,
            build=(
                image_args(settings, service, image_build(PROJECT_ROOT, service.build))
                if service.build is not None
                else None
            ),
            table=(
                ServiceTableArgs(
                    account_id=shared.account_id,
                    partition=shared.partition,
                    production=settings.production,
                    protect=settings.data_on_destroy == "protect",
                    retain_on_delete=settings.data_on_destroy == "keep",
                    stream=bool(service.publishes),
                )
                if service.table
                else None
            ),
            relay=relay_args(settings, service, shared) if service.publishes else None,
            events_queue=(queue_args(settings, service, shared) if service.subscriptions else None),
            collector=(
                CollectorArgs(
                    cpu=settings.observability.collector_cpu,
                    memory=settings.observability.collector_memory,
                    sampling_ratio=settings.observability.sampling_ratio,
                    environment_name=settings.stack,
                )
                if settings.tracing
                else None
            ),
        ),
        desired_count=service.desired_count,
        capacity_provider_strategy=capacity_strategy(settings, service),
        deployment=DeploymentArgs(
            minimum_healthy_percent=deployment.minimum_healthy_percent,
            maximum_percent=deployment.maximum_percent,
            health_check_grace_period=deployment.health_check_grace_period,
            wait_for_steady_state=deployment.wait_for_steady_state,
        ),
        discovery_service_arn=endpoint.discovery_service_arn,
        target_group=(
            TargetGroupArgs(
                target_group_arn=endpoint.target_group_arn,
                load_balancer_arn_suffix=shared.load_balancer_arn_suffix,
                target_group_arn_suffix=endpoint.target_group_arn_suffix,
                alternate_target_group_arn=endpoint.alternate_target_group_arn,
                alternate_target_group_arn_suffix=endpoint.alternate_target_group_arn_suffix,
                production_listener_rule_arn=endpoint.production_listener_rule_arn,
                health_check_interval=deployment.health_check_interval,
                healthy_threshold=deployment.healthy_threshold,
                unhealthy_threshold=deployment.unhealthy_threshold,
                deregistration_delay=deployment.deregistration_delay,
            )
            if endpoint.target_group_arn is not None
            else None
        ),
        rollout=RolloutArgs(
            strategy=ECS_STRATEGIES[rollout.strategy],  # type: ignore[arg-type]
            bake_time_minutes=rollout.bake_time_minutes,
            canary_percent=rollout.canary_percent,
            canary_bake_time_minutes=rollout.canary_bake_time_minutes,
            step_percent=rollout.step_percent,
            step_bake_time_minutes=rollout.step_bake_time_minutes,
        ),
        alarms=alarm_args(settings, service, shared, endpoint),
        service_connect=service_connect_args(settings, service, shared, endpoint),
        start_after=tuple(start_after),
        task_permissions=tuple(
            {"actions": p.actions, "resources": p.resources} for p in spec.permissions
        ),
        autoscaling=(
            AutoscalingArgs(
                min_count=band.min_count,
                max_count=band.max_count,
                cpu_target=band.cpu_target,
                memory_target=band.memory_target,
                requests_per_target=band.requests_per_target,
            )
            if band is not None
            else None
        ),
    )


def _events(shared: SharedValues) -> EventValues:
    if shared.events is None:
        raise ValueError("a publisher or a subscriber needs the environment's EventValues")
    return shared.events


def relay_args(
    settings: StackSettings, service: ServiceSettings, shared: SharedValues
) -> EventRelayArgs:
    """A publisher's relay, from its table's stream to its topic."""
    events = _events(shared)
    own = events.publishers[service.name]
    return EventRelayArgs(
        publisher=service.name,
        function_name=naming.relay_function(settings.project, settings.stack, service.name),
        failure_queue_arn=own.failure_queue_arn,
        code_path=RELAY_CODE,
        code_hash=context_hash(PROJECT_ROOT / RELAY_CODE, paths=[RELAY_PACKAGE]),
        publishes=service.publishes,
        stream_event_names=sorted({STREAM_EVENT_VERBS[verb(e)] for e in service.publishes}),
        topic_arn=own.topic_arn,
        key_arn=events.key_arn,
        log_group_name=own.relay_log_group_name,
        log_group_arn=own.relay_log_group_arn,
        region=settings.region,
        account_id=shared.account_id,
        alarm_topic_arn=shared.alerts_topic_arn,
        alarm_prefix=naming.alarm_prefix(settings.project, settings.stack, service.name),
    )


def queue_args(
    settings: StackSettings, service: ServiceSettings, shared: SharedValues
) -> EventQueueArgs:
    """A subscriber's queue, subscribed to the topic of each publisher it receives from."""
    events = _events(shared)
    return EventQueueArgs(
        subscriber=service.name,
        queue_name=naming.events_queue(settings.project, settings.stack, service.name),
        dead_letter_queue_name=naming.events_dead_letter_queue(
            settings.project, settings.stack, service.name
        ),
        key_arn=events.key_arn,
        sources=tuple(
            EventSourceArgs(
                publisher=publisher,
                topic_arn=events.publishers[publisher].topic_arn,
                events=names,
            )
            for publisher, names in sorted(service.subscriptions.items())
        ),
        alarm_topic_arn=shared.alerts_topic_arn,
        alarm_prefix=naming.alarm_prefix(settings.project, settings.stack, service.name),
    )


# The name of the application's port mapping, which its Service Connect endpoint refers to.
SERVICE_CONNECT_PORT_NAME = "http"


def service_connect_args(
    settings: StackSettings,
    service: ServiceSettings,
    shared: SharedValues,
    endpoint: EndpointValues,
) -> ServiceConnectArgs | None:
    """Under Service Connect, every service is a client-server endpoint of the namespace, at
    the host and port of the URL its callers are given (`http://<dns name>:<port>`)."""
    if not settings.service_connect:
        return None
    if shared.namespace_arn is None:
        raise ValueError("Service Connect needs the namespace's ARN in SharedValues")
    spec = service.spec
    return ServiceConnectArgs(
        namespace=shared.namespace_arn,
        port_name=SERVICE_CONNECT_PORT_NAME,
        discovery_name=naming.service_connect_discovery_name(spec.discovery_name),
        dns_name=service.dns_name,
        port=spec.container_port,
        per_request_timeout_seconds=service.per_request_timeout_seconds,
        log_group_name=endpoint.log_group_name,
        proxy_memory=SERVICE_CONNECT_PROXY_MEMORY,
    )


def platform_values(settings: StackSettings) -> tuple[SharedValues, dict[str, EndpointValues]]:
    """What a service stack runs on: its platform's exported values."""
    contract = settings.platform
    if contract is None:
        raise ValueError("only a service stack runs on a platform's exported values")
    identity = aws.get_caller_identity_output()
    shared = SharedValues(
        cluster_arn=contract.cluster_arn,
        cluster_name=contract.cluster_name,
        private_subnet_ids=list(contract.private_subnet_ids),
        load_balancer_arn_suffix=contract.load_balancer_arn_suffix,
        alerts_topic_arn=contract.alerts_topic_arn,
        account_id=identity.account_id,
        partition=aws.get_partition_output().partition,
        namespace_arn=contract.namespace_arn,
        events=(
            EventValues(
                key_arn=contract.events.key_arn,
                publishers={
                    name: PublisherValues(
                        topic_arn=p.topic_arn,
                        relay_log_group_name=p.relay_log_group_name,
                        relay_log_group_arn=p.relay_log_group_arn,
                        failure_queue_arn=p.failure_queue_arn,
                    )
                    for name, p in contract.events.publishers.items()
                },
            )
            if contract.events.key_arn is not None
            else None
        ),
    )
    endpoints = {
        name: EndpointValues(
            security_group_id=e.security_group_id,
            log_group_name=e.log_group_name,
            log_group_arn=e.log_group_arn,
            discovery_service_arn=e.discovery_service_arn,
            target_group_arn=e.target_group_arn,
            target_group_arn_suffix=e.target_group_arn_suffix,
            alternate_target_group_arn=e.alternate_target_group_arn,
            alternate_target_group_arn_suffix=e.alternate_target_group_arn_suffix,
            production_listener_rule_arn=e.production_listener_rule_arn,
        )
        for name, e in contract.endpoints.items()
    }
    return shared, endpoints
