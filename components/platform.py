"""Platform: one environment of the microservices architecture, composed from typed settings."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import naming
from components.cluster import CapacityProviderShare, EcsCluster, EcsClusterArgs
from components.ecs_service import (
    AutoscalingArgs,
    ContainerArgs,
    DeploymentArgs,
    EcsService,
    EcsServiceArgs,
    HealthCheckArgs,
    LoadBalancerAttachmentArgs,
    RouteArgs,
    ServiceDiscoveryArgs,
)
from components.encryption import LogEncryptionKey, LogEncryptionKeyArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.namespace import ServiceNamespace, ServiceNamespaceArgs
from components.network import ExistingVpcArgs, FlowLogsArgs, Network, NetworkArgs
from config import (
    PRIVATE_SUBNET_PREFIX,
    PUBLIC_SUBNET_PREFIX,
    ServiceSettings,
    StackSettings,
)


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    settings: StackSettings


class Platform(pulumi.ComponentResource):
    network: Network
    cluster: EcsCluster
    namespace: ServiceNamespace
    load_balancer: LoadBalancer
    log_key: LogEncryptionKey | None
    services: dict[str, EcsService]

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
        strategy = tuple(
            CapacityProviderShare(provider=p.provider, weight=p.weight, base=p.base)
            for p in settings.cluster.capacity_providers
        )
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

        # Callers come first, so each service can admit the groups of the services that call it.
        self.services = {}
        for service in settings.services:
            self.services[service.name] = EcsService(
                naming.service_component(name, service.name),
                self._service_args(settings, service, strategy, account_id, partition, log_key_arn),
                child,
            )

        self.register_outputs(
            {
                "albDnsName": self.load_balancer.dns_name,
                "clusterName": self.cluster.cluster_name,
                "namespaceId": self.namespace.namespace_id,
            }
        )

    def _service_args(
        self,
        settings: StackSettings,
        service: ServiceSettings,
        strategy: tuple[CapacityProviderShare, ...],
        account_id: pulumi.Output[str],
        partition: pulumi.Output[str],
        log_key_arn: pulumi.Output[str] | None,
    ) -> EcsServiceArgs:
        spec = service.spec
        deployment = settings.deployment
        band = service.autoscaling
        return EcsServiceArgs(
            service_name=service.name,
            cluster_arn=self.cluster.cluster_arn,
            cluster_name=self.cluster.cluster_name,
            vpc_id=self.network.vpc_id,
            subnet_ids=self.network.private_subnet_ids,
            container_name=spec.container_name,
            container_port=spec.container_port,
            region=settings.region,
            account_id=account_id,
            partition=partition,
            container=ContainerArgs(
                image=service.image,
                cpu=service.cpu,
                memory=service.memory,
                environment=service.environment,
                secrets=service.secrets,
                secret_kms_keys=service.secrets_kms_key_arns,
                user=service.user,
                prepare_tmp=service.prepare_tmp,
                stop_timeout=service.stop_timeout,
                log_retention_days=settings.logs.retention_days,
                log_group_name=naming.log_group(settings.project, settings.stack, service.name),
                log_kms_key_arn=log_key_arn,
                retain_logs_on_delete=settings.logs_on_destroy == "keep",
                family=naming.task_family(settings.project, settings.stack, service.name),
            ),
            desired_count=service.desired_count,
            capacity_provider_strategy=strategy,
            deployment=DeploymentArgs(
                minimum_healthy_percent=deployment.minimum_healthy_percent,
                maximum_percent=deployment.maximum_percent,
                health_check_grace_period=deployment.health_check_grace_period,
                wait_for_steady_state=deployment.wait_for_steady_state,
            ),
            service_discovery=ServiceDiscoveryArgs(
                namespace_id=self.namespace.namespace_id,
                dns_name=spec.discovery_name,
                ttl=settings.record_ttl,
            ),
            load_balancer=(
                LoadBalancerAttachmentArgs(
                    security_group_id=self.load_balancer.security_group_id,
                    listener_arn=self.load_balancer.listener_arn,
                    load_balancer_arn_suffix=self.load_balancer.arn_suffix,
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
            callers={caller: self.services[caller].security_group_id for caller in service.callers},
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
