"""Platform: one environment of the microservices architecture, composed from typed settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

import naming
from components.compute.cluster import EcsCluster, EcsClusterArgs
from components.compute.ecs_service import EcsService
from components.edge.endpoint import (
    HealthCheckArgs,
    ListenerRoutesArgs,
    LogGroupArgs,
    RouteArgs,
    ServiceDiscoveryArgs,
    ServiceEndpoint,
    ServiceEndpointArgs,
)
from components.edge.load_balancer import LoadBalancer, LoadBalancerArgs
from components.events import EventTransport, EventTransportArgs, PublisherArgs
from components.network.namespace import ServiceNamespace, ServiceNamespaceArgs
from components.network.network import ExistingVpcArgs, FlowLogsArgs, Network, NetworkArgs
from components.observability.alerts import (
    AlertTopic,
    AlertTopicArgs,
    DashboardService,
    dashboard_body,
)
from components.observability.log_key import LogEncryptionKey, LogEncryptionKeyArgs
from components.observability.tracing import TransactionSearch, TransactionSearchArgs
from components.service_runtime import (
    EndpointValues,
    EventValues,
    PublisherValues,
    SharedValues,
    capacity_strategy,
    runtime_args,
)
from config import (
    PRIVATE_SUBNET_PREFIX,
    PUBLIC_SUBNET_PREFIX,
    ServiceSettings,
    StackSettings,
)
from config.contract import settings_document


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    settings: StackSettings
    run_services: bool = True
    """Also run every service here (the all-in-one stack). False for a platform stack: it
    declares every service's endpoint, and service stacks run them."""


class Platform(pulumi.ComponentResource):
    network: Network
    cluster: EcsCluster
    namespace: ServiceNamespace
    load_balancer: LoadBalancer
    log_key: LogEncryptionKey | None
    transaction_search: TransactionSearch | None
    """X-Ray's span destination for the account, when this environment traces."""
    alerts: AlertTopic
    events: EventTransport | None
    """The events key and each publisher's topic; None when no service publishes."""
    dashboard: aws.cloudwatch.Dashboard
    endpoints: dict[str, ServiceEndpoint]
    services: dict[str, EcsService]
    """The services this stack runs: none in a platform stack."""

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:platform:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        self.log_key = None
        if settings.logs.kms_encryption:
            self.log_key = LogEncryptionKey(
                naming.log_key_component(name),
                LogEncryptionKeyArgs(
                    account_id=account_id,
                    region=settings.region,
                    partition=partition,
                    retain_on_delete=settings.logs_on_destroy == "keep",
                ),
                child,
            )
        log_key_arn = self.log_key.key_arn if self.log_key is not None else None

        net = settings.network
        self.network = Network(
            naming.network_component(name),
            NetworkArgs(
                cidr_block=net.cidr_block,
                availability_zones=net.availability_zones,
                availability_zone_cidr_mask=net.availability_zone_cidr_mask,
                nat_gateway_per_az=net.nat_gateways == "perAz",
                public_subnet_mask=PUBLIC_SUBNET_PREFIX,
                private_subnet_mask=PRIVATE_SUBNET_PREFIX,
                existing=(
                    ExistingVpcArgs(
                        vpc_id=net.vpc_id,
                        public_subnet_ids=net.public_subnet_ids,
                        private_subnet_ids=net.private_subnet_ids,
                    )
                    if net.vpc_id is not None
                    else None
                ),
                flow_logs=(
                    FlowLogsArgs(
                        account_id=account_id,
                        region=settings.region,
                        partition=partition,
                        retention_days=settings.logs.retention_days,
                        kms_key_arn=log_key_arn,
                        retain_on_delete=settings.logs_on_destroy == "keep",
                    )
                    if net.flow_logs
                    else None
                ),
            ),
            child,
        )
        strategy = capacity_strategy(settings)
        self.cluster = EcsCluster(
            naming.cluster_component(name),
            EcsClusterArgs(
                cluster_name=naming.cluster_name(settings.project, settings.stack),
                container_insights=settings.cluster.container_insights,
                default_strategy=strategy,
            ),
            child,
        )
        self.namespace = ServiceNamespace(
            naming.namespace_component(name),
            ServiceNamespaceArgs(namespace=settings.namespace, vpc_id=self.network.vpc_id),
            child,
        )
        self.transaction_search = None
        if settings.tracing and settings.observability.manage_transaction_search:
            self.transaction_search = TransactionSearch(
                naming.tracing_component(name),
                TransactionSearchArgs(
                    account_id=account_id,
                    region=settings.region,
                    partition=partition,
                    policy_name=naming.transaction_search_policy(settings.project, settings.stack),
                ),
                child,
            )
        lb = settings.load_balancer
        self.load_balancer = LoadBalancer(
            naming.load_balancer_component(name),
            LoadBalancerArgs(
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.public_subnet_ids,
                ingress_cidrs=lb.ingress_cidrs,
                certificate_arn=lb.certificate_arn,
                domain_name=lb.domain_name,
                deletion_protection=settings.deletion_protection,
                access_logs=lb.access_logs,
                access_log_retention_days=settings.logs.retention_days,
                waf=lb.waf,
                log_retention_days=settings.logs.retention_days,
                log_kms_key_arn=log_key_arn,
                waf_log_group_name=naming.waf_log_group(settings.project, settings.stack),
                logs_on_destroy=settings.logs_on_destroy,
                account_id=account_id,
            ),
            child,
        )

        self.alerts = AlertTopic(
            naming.alerts_component(name),
            AlertTopicArgs(
                emails=settings.alerts.emails,
                encrypt=settings.production,
                account_id=account_id,
                partition=partition,
                region=settings.region,
                retain_key_on_delete=settings.logs_on_destroy == "keep",
            ),
            child,
        )
        self.events = None
        if settings.publishers:
            self.events = EventTransport(
                naming.events_component(name),
                EventTransportArgs(
                    publishers=tuple(
                        PublisherArgs(
                            name=service.name,
                            topic_name=naming.events_topic(
                                settings.project, settings.stack, service.name
                            ),
                            relay_log_group_name=naming.relay_log_group(
                                settings.project, settings.stack, service.name
                            ),
                            failure_queue_name=naming.relay_failure_queue(
                                settings.project, settings.stack, service.name
                            ),
                            alarm_prefix=naming.alarm_prefix(
                                settings.project, settings.stack, service.name
                            ),
                        )
                        for service in settings.publishers
                    ),
                    account_id=account_id,
                    partition=partition,
                    log_retention_days=settings.logs.retention_days,
                    log_kms_key_arn=log_key_arn,
                    retain_on_delete=settings.logs_on_destroy == "keep",
                    alarm_topic_arn=self.alerts.topic_arn,
                ),
                child,
            )
        shared = SharedValues(
            cluster_arn=self.cluster.cluster_arn,
            cluster_name=self.cluster.cluster_name,
            private_subnet_ids=self.network.private_subnet_ids,
            load_balancer_arn_suffix=self.load_balancer.arn_suffix,
            alerts_topic_arn=self.alerts.topic_arn,
            account_id=account_id,
            partition=partition,
            namespace_arn=self.namespace.namespace_arn,
            events=(
                EventValues(
                    key_arn=self.events.key_arn,
                    publishers={
                        publisher: PublisherValues(
                            topic_arn=outputs.topic_arn,
                            relay_log_group_name=outputs.relay_log_group_name,
                            relay_log_group_arn=outputs.relay_log_group_arn,
                            failure_queue_arn=outputs.failure_queue_arn,
                        )
                        for publisher, outputs in self.events.publishers.items()
                    },
                )
                if self.events is not None
                else None
            ),
        )
        # Callers come first, so each service can admit the groups of the services that call it.
        self.endpoints = {}
        self.services = {}
        for service in settings.services:
            component = naming.service_component(name, service.name)
            endpoint = ServiceEndpoint(
                component,
                self._endpoint_args(settings, service, log_key_arn),
                child,
                # These resources were the EcsService component's before it was split in two.
                moved_from=pulumi.create_urn(
                    component, "microservices:ecs_service:EcsService", parent=self
                ),
            )
            self.endpoints[service.name] = endpoint
        if args.run_services:
            # Services keep their Cloud Map DNS records in both modes. Under Service Connect
            # each service starts after the ones it calls (a task resolves only the endpoints
            # that exist when it starts: AWS's "Deployment order"), which also makes a switch
            # into it safe. The `pulumi up` that leaves it releases callers first
            # (discovery.leavingServiceConnect), so that no caller is left on a proxy whose
            # callee has gone; otherwise DNS releases run side by side.
            leaving = settings.discovery.leaving_service_connect
            ordered = (
                list(reversed(settings.services))
                if settings.service_connect
                else list(settings.services)
            )
            for service in ordered:
                waits_for: tuple[str, ...] = (
                    service.spec.calls
                    if settings.service_connect
                    else service.callers
                    if leaving
                    else ()
                )
                self.services[service.name] = EcsService(
                    naming.service_component(name, service.name),
                    runtime_args(
                        settings,
                        service,
                        shared,
                        endpoint_values(self.endpoints[service.name]),
                        start_after=[self.services[other] for other in waits_for],
                    ),
                    child,
                )

        self._shared = shared
        self.dashboard = self._dashboard(name, settings)
        self.register_outputs(
            {
                "albDnsName": self.load_balancer.dns_name,
                "clusterName": self.cluster.cluster_name,
                "namespaceId": self.namespace.namespace_id,
            }
        )

    def _dashboard(self, name: str, settings: StackSettings) -> aws.cloudwatch.Dashboard:
        """One dashboard for the environment, with a row per service of the catalog."""
        services = [
            DashboardService(
                name=service.name,
                target_group_arn_suffixes=tuple(
                    suffix
                    for suffix in (
                        self.endpoints[service.name].target_group_arn_suffix,
                        self.endpoints[service.name].alternate_target_group_arn_suffix,
                    )
                    if suffix is not None
                ),
            )
            for service in settings.services
        ]
        body = pulumi.Output.all(self.cluster.cluster_name, self.load_balancer.arn_suffix).apply(
            lambda values: json.dumps(
                dashboard_body(
                    region=settings.region,
                    cluster_name=values[0],
                    services=services,
                    load_balancer_arn_suffix=values[1],
                )
            )
        )
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=naming.dashboard(settings.project, settings.stack),
            dashboard_body=body,
            # A fixed name, unique in the account.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def contract(self, settings: StackSettings) -> dict[str, Any]:
        """What service stacks read from this platform (the `platform` stack output)."""
        return {
            **settings_document(
                project=settings.project,
                stack=settings.stack,
                region=settings.region,
                environment=settings.environment,
                namespace=settings.namespace,
                cluster=settings.cluster,
                deployment=settings.deployment,
                logs=settings.logs,
                observability=settings.observability,
                discovery=settings.discovery,
            ),
            "namespaceArn": self.namespace.namespace_arn,
            "clusterArn": self._shared.cluster_arn,
            "clusterName": self._shared.cluster_name,
            "privateSubnetIds": self._shared.private_subnet_ids,
            "loadBalancerArnSuffix": self._shared.load_balancer_arn_suffix,
            "alertsTopicArn": self._shared.alerts_topic_arn,
            "events": {
                "keyArn": self.events.key_arn if self.events is not None else None,
                "publishers": {
                    name: {
                        "topicArn": outputs.topic_arn,
                        "relayLogGroupName": outputs.relay_log_group_name,
                        "relayLogGroupArn": outputs.relay_log_group_arn,
                        "relayFailureQueueArn": outputs.failure_queue_arn,
                    }
                    for name, outputs in (
                        self.events.publishers.items() if self.events is not None else ()
                    )
                },
            },
            "endpoints": {
                name: {
                    "securityGroupId": endpoint.security_group_id,
                    "logGroupName": endpoint.log_group_name,
                    "logGroupArn": endpoint.log_group_arn,
                    "discoveryServiceArn": endpoint.discovery_service_arn,
                    "targetGroupArn": endpoint.target_group_arn,
                    "targetGroupArnSuffix": endpoint.target_group_arn_suffix,
                    "alternateTargetGroupArn": endpoint.alternate_target_group_arn,
                    "alternateTargetGroupArnSuffix": endpoint.alternate_target_group_arn_suffix,
                    "productionListenerRuleArn": endpoint.production_listener_rule_arn,
                }
                for name, endpoint in self.endpoints.items()
            },
        }

    def _endpoint_args(
        self,
        settings: StackSettings,
        service: ServiceSettings,
        log_key_arn: pulumi.Output[str] | None,
    ) -> ServiceEndpointArgs:
        spec = service.spec
        deployment = settings.deployment
        return ServiceEndpointArgs(
            service_name=service.name,
            vpc_id=self.network.vpc_id,
            container_port=spec.container_port,
            log_group=LogGroupArgs(
                name=naming.log_group(settings.project, settings.stack, service.name),
                retention_days=settings.logs.retention_days,
                kms_key_arn=log_key_arn,
                retain_on_delete=settings.logs_on_destroy == "keep",
            ),
            callers={
                caller: self.endpoints[caller].security_group_id for caller in service.callers
            },
            # In both modes: under Service Connect, ECS creates another Cloud Map service for
            # the service (naming.service_connect_discovery_name), and these DNS records keep
            # answering the callers that have not switched yet.
            service_discovery=ServiceDiscoveryArgs(
                namespace_id=self.namespace.namespace_id,
                dns_name=spec.discovery_name,
                ttl=settings.record_ttl,
            ),
            listener=(
                ListenerRoutesArgs(
                    security_group_id=self.load_balancer.security_group_id,
                    listener_arn=self.load_balancer.listener_arn,
                    routes=tuple(
                        RouteArgs(
                            priority=r.priority,
                            path_patterns=r.path_patterns,
                            host_patterns=r.host_patterns,
                        )
                        for r in spec.routes
                    ),
                    health_check=HealthCheckArgs(
                        path=spec.health_check_path,
                        interval=deployment.health_check_interval,
                        timeout=deployment.health_check_timeout,
                        healthy_threshold=deployment.healthy_threshold,
                        unhealthy_threshold=deployment.unhealthy_threshold,
                    ),
                    deregistration_delay=deployment.deregistration_delay,
                )
                if service.routed
                else None
            ),
        )


def endpoint_values(endpoint: ServiceEndpoint) -> EndpointValues:
    return EndpointValues(
        security_group_id=endpoint.security_group_id,
        log_group_name=endpoint.log_group_name,
        log_group_arn=endpoint.log_group_arn,
        discovery_service_arn=endpoint.discovery_service_arn,
        target_group_arn=endpoint.target_group_arn,
        target_group_arn_suffix=endpoint.target_group_arn_suffix,
        alternate_target_group_arn=endpoint.alternate_target_group_arn,
        alternate_target_group_arn_suffix=endpoint.alternate_target_group_arn_suffix,
        production_listener_rule_arn=endpoint.production_listener_rule_arn,
    )
