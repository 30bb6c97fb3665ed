"""EcsService: one microservice's whole ECS stack.

Log group, execution and task roles, Fargate task definition, security group and the rules
that let its callers (and the ALB, if routed) reach it, Cloud Map service, target group and
listener rules, the ECS service, and its autoscaling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pulumi
import pulumi_aws as aws

import naming
from components.cluster import CapacityProviderShare, strategy_inputs
from components.task import (
    TMP_VOLUME,
    Container,
    assume_role_policy,
    execution_policy,
    task_containers,
    task_policy,
)

SCALE_OUT_COOLDOWN = 60
SCALE_IN_COOLDOWN = 300


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
    log_retention_days: int = 30
    log_group_name: str | None = None
    """Defaults to `/ecs/<component name>`."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """Encrypt the log group with this customer-managed key."""
    retain_logs_on_delete: bool = False
    """Leave the log group in the account when the stack is destroyed."""
    family: str | None = None
    """The task definition family; defaults to the component's name. Families are shared by
    the whole account and region, so a family name should carry the project and stack."""


@dataclass(frozen=True, kw_only=True)
class RouteArgs:
    priority: int
    path_patterns: Sequence[str] = ()
    host_patterns: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class HealthCheckArgs:
    path: str = "/"
    interval: int = 10
    timeout: int = 5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    matcher: str = "200-399"


@dataclass(frozen=True, kw_only=True)
class LoadBalancerAttachmentArgs:
    """Put the service behind an ALB: an existing target group, or a listener plus routes
    from which the component creates a target group and listener rules."""

    security_group_id: pulumi.Input[str]
    """The ALB's security group, admitted to the container port."""
    target_group_arn: pulumi.Input[str] | None = None
    listener_arn: pulumi.Input[str] | None = None
    load_balancer_arn_suffix: pulumi.Input[str] | None = None
    """Needed to scale on ALB requests per target."""
    routes: Sequence[RouteArgs] = ()
    health_check: HealthCheckArgs = HealthCheckArgs()
    deregistration_delay: int = 30


@dataclass(frozen=True, kw_only=True)
class ServiceDiscoveryArgs:
    namespace_id: pulumi.Input[str]
    dns_name: str
    """The service's name in the namespace, e.g. `users`."""
    ttl: int = 10


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
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets; tasks never get a public IP."""
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
    service_discovery: ServiceDiscoveryArgs | None = None
    load_balancer: LoadBalancerAttachmentArgs | None = None
    callers: Mapping[str, pulumi.Input[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Calling service name -> its security group id; each is admitted to the container port."""
    autoscaling: AutoscalingArgs | None = None
    task_permissions: Sequence[Mapping[str, Sequence[str]]] = ()
    """`{"actions": [...], "resources": [...]}` the application may use; none by default."""

    def __post_init__(self) -> None:
        if (self.container is None) == (self.task_definition_arn is None):
            raise ValueError("EcsServiceArgs needs exactly one of container, task_definition_arn")
        lb = self.load_balancer
        if lb is not None and (lb.target_group_arn is None) == (lb.listener_arn is None):
            raise ValueError("load_balancer needs exactly one of target_group_arn, listener_arn")
        if lb is not None and lb.listener_arn is not None and not lb.routes:
            raise ValueError("load_balancer with a listener needs at least one route")
        if (
            self.autoscaling is not None
            and self.autoscaling.requests_per_target is not None
            and (lb is None or lb.listener_arn is None or lb.load_balancer_arn_suffix is None)
        ):
            raise ValueError(
                "autoscaling on requests per target needs load_balancer with a listener "
                "and load_balancer_arn_suffix"
            )


def route_conditions(route: RouteArgs) -> list[dict[str, object]]:
    conditions: list[dict[str, object]] = []
    if route.path_patterns:
        conditions.append({"path_pattern": {"values": list(route.path_patterns)}})
    if route.host_patterns:
        conditions.append({"host_header": {"values": list(route.host_patterns)}})
    return conditions


class EcsService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str] | None
    discovery_service_arn: pulumi.Output[str] | None
    target_group_arn: pulumi.Output[str] | None
    log_group_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: EcsServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:ecs_service:EcsService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        port = args.container_port

        # --- network: the service's own group, open only to the ALB and its callers --------
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{args.service_name}: ECS tasks",
            tags={"Name": f"{name}-sg"},
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress-https",
            security_group_id=security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS to AWS APIs and image registries",
            opts=child,
        )
        for caller, caller_group_id in sorted(args.callers.items()):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-{caller}",
                security_group_id=security_group.id,
                referenced_security_group_id=caller_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"{caller} calls {args.service_name}",
                opts=child,
            )
            # The rule on the caller's group lives here: the callee knows its port.
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-egress-from-{caller}",
                security_group_id=caller_group_id,
                referenced_security_group_id=security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"{caller} calls {args.service_name}",
                opts=child,
            )

        # --- task definition --------------------------------------------------------------
        self.task_role_arn = None
        self.log_group_name = None
        # What a task needs in place before it starts: the agent's permissions.
        task_prerequisites: list[pulumi.Resource] = []
        if args.container is not None:
            task_definition_arn, execution_policy_resource = self._task_definition(
                name, args, args.container
            )
            task_prerequisites.append(execution_policy_resource)
        else:
            assert args.task_definition_arn is not None
            task_definition_arn = pulumi.Output.from_input(args.task_definition_arn)

        # --- service discovery ------------------------------------------------------------
        registry = None
        self.discovery_service_arn = None
        if args.service_discovery is not None:
            sd = args.service_discovery
            registry = aws.servicediscovery.Service(
                f"{name}-discovery",
                name=sd.dns_name,
                description=f"{args.service_name} tasks",
                dns_config={
                    "namespace_id": sd.namespace_id,
                    "dns_records": [{"ttl": sd.ttl, "type": "A"}],
                    "routing_policy": "MULTIVALUE",
                },
                # ECS reports task health to Cloud Map through this block. AWS fixes the
                # threshold at 1 and the provider marks it deprecated, but an empty block is not
                # sent to AWS and then reads back as a diff that replaces the service on every
                # update (hashicorp/terraform-provider-aws#44285). So it stays set, and each
                # `pulumi preview` carries the provider's deprecation warning for it.
                health_check_custom_config={"failure_threshold": 1},
                # ECS deregisters tasks itself; leftovers must not block a destroy.
                force_destroy=True,
                # The name is fixed and unique in the namespace: a replacement must delete the
                # old service before it creates the new one.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.discovery_service_arn = registry.arn

        # --- load balancer ----------------------------------------------------------------
        target_group_arn: pulumi.Input[str] | None = None
        target_group_suffix: pulumi.Output[str] | None = None
        listener_rules: list[aws.lb.ListenerRule] = []
        lb = args.load_balancer
        if lb is not None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-alb",
                security_group_id=security_group.id,
                referenced_security_group_id=lb.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"load balancer to {args.service_name}",
                opts=child,
            )
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-alb-egress",
                security_group_id=lb.security_group_id,
                referenced_security_group_id=security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"load balancer to {args.service_name}",
                opts=child,
            )
            if lb.target_group_arn is not None:
                target_group_arn = lb.target_group_arn
            else:
                health = lb.health_check
                target_group = aws.lb.TargetGroup(
                    naming.target_group(name),
                    target_type="ip",
                    port=port,
                    protocol="HTTP",
                    vpc_id=args.vpc_id,
                    deregistration_delay=lb.deregistration_delay,
                    health_check={
                        "enabled": True,
                        "path": health.path,
                        "protocol": "HTTP",
                        "port": "traffic-port",
                        "matcher": health.matcher,
                        "interval": health.interval,
                        "timeout": health.timeout,
                        "healthy_threshold": health.healthy_threshold,
                        "unhealthy_threshold": health.unhealthy_threshold,
                    },
                    opts=child,
                )
                target_group_arn = target_group.arn
                target_group_suffix = target_group.arn_suffix
                for route in lb.routes:
                    listener_rules.append(
                        aws.lb.ListenerRule(
                            f"{name}-rule-{route.priority}",
                            listener_arn=lb.listener_arn,
                            priority=route.priority,
                            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                            conditions=route_conditions(route),
                            opts=child,
                        )
                    )
        self.target_group_arn = (
            pulumi.Output.from_input(target_group_arn) if target_group_arn is not None else None
        )

        # --- the ECS service ----------------------------------------------------------------
        deployment = args.deployment
        service = aws.ecs.Service(
            f"{name}-ecs",
            name=args.service_name,
            cluster=args.cluster_arn,
            task_definition=task_definition_arn,
            desired_count=args.desired_count,
            capacity_provider_strategies=strategy_inputs(tuple(args.capacity_provider_strategy)),
            # ECS rejects a capacity provider strategy change without a new deployment.
            force_new_deployment=True,
            network_configuration={
                "subnets": args.subnet_ids,
                "security_groups": [security_group.id],
                "assign_public_ip": False,
            },
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=deployment.minimum_healthy_percent,
            deployment_maximum_percent=deployment.maximum_percent,
            health_check_grace_period_seconds=(
                deployment.health_check_grace_period if lb is not None else None
            ),
            service_registries=({"registry_arn": registry.arn} if registry is not None else None),
            load_balancers=(
                [
                    {
                        "target_group_arn": target_group_arn,
                        "container_name": args.container_name,
                        "container_port": port,
                    }
                ]
                if target_group_arn is not None
                else None
            ),
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=deployment.wait_for_steady_state,
            opts=pulumi.ResourceOptions(
                parent=self,
                # ECS refuses a target group that no listener forwards to yet, and tasks fail
                # to start without the agent's permissions.
                depends_on=[*listener_rules, *task_prerequisites],
                # With autoscaling the scaler owns the count; `pulumi up` must not undo it.
                ignore_changes=["desiredCount"] if args.autoscaling is not None else None,
                # The service has a fixed name, so a replacement cannot create the new one
                # first.
                delete_before_replace=True,
            ),
        )

        if args.autoscaling is not None:
            self._autoscaling(
                name,
                args,
                args.autoscaling,
                service,
                request_label=(
                    pulumi.Output.format(
                        "{0}/{1}", lb.load_balancer_arn_suffix, target_group_suffix
                    )
                    if lb is not None
                    and lb.load_balancer_arn_suffix is not None
                    and target_group_suffix is not None
                    else None
                ),
                child=child,
            )

        self.service_name = service.name
        self.service_arn = service.arn
        self.security_group_id = security_group.id
        self.task_definition_arn = pulumi.Output.from_input(task_definition_arn)
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "serviceArn": self.service_arn,
                "securityGroupId": self.security_group_id,
                "taskDefinitionArn": self.task_definition_arn,
            }
        )

    def _task_definition(
        self,
        name: str,
        args: EcsServiceArgs,
        container: ContainerArgs,
    ) -> tuple[pulumi.Output[str], aws.iam.RolePolicy]:
        child = pulumi.ResourceOptions(parent=self)
        log_group_name = container.log_group_name or f"/ecs/{name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=container.log_retention_days,
            kms_key_id=container.log_kms_key_arn,
            # A fixed name: the old group must go before a replacement can take it.
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                retain_on_delete=container.retain_logs_on_delete,
            ),
        )

        def trust(region: str | None) -> pulumi.Output[str]:
            return pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    assume_role_policy(account_id=values[0], region=region, partition=values[1])
                )
            )

        # Two roles: the agent's (pull image, write logs, read secrets) and the
        # application's, which has no permissions of its own. AWS documents the source-ARN
        # condition for task roles; the execution role is limited to the account.
        execution_role = aws.iam.Role(
            f"{name}-execution-role",
            description=f"ECS agent for {args.service_name}: logs, image pull, secrets",
            assume_role_policy=trust(region=None),
            opts=child,
        )
        execution_policy_resource = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.all(log_group.arn, args.partition).apply(
                lambda values: json.dumps(
                    execution_policy(
                        log_group_arn=values[0],
                        secrets=list(container.secrets.values()),
                        image=container.image,
                        partition=values[1],
                        secret_kms_keys=container.secret_kms_keys,
                    )
                )
            ),
            opts=child,
        )
        task_role = aws.iam.Role(
            f"{name}-task-role",
            description=f"Application role of {args.service_name}",
            assume_role_policy=trust(region=args.region),
            opts=child,
        )
        if args.task_permissions:
            aws.iam.RolePolicy(
                f"{name}-task-policy",
                role=task_role.id,
                policy=json.dumps(task_policy(args.task_permissions)),
                opts=child,
            )
        containers = task_containers(
            Container(
                name=args.container_name,
                image=container.image,
                port=args.container_port,
                environment=container.environment,
                secrets=container.secrets,
                user=container.user,
                log_group=log_group_name,
                region=args.region,
                stop_timeout=container.stop_timeout,
            ),
            prepare_tmp=container.prepare_tmp,
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=container.family or name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(container.cpu),
            memory=str(container.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[{"name": TMP_VOLUME}],
            container_definitions=json.dumps(containers),
            # The log group must exist, and the agent must hold its permissions, before a task
            # starts: IAM changes reach ECS only once the policy is attached.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, execution_policy_resource]
            ),
        )
        self.task_role_arn = task_role.arn
        self.log_group_name = log_group.name
        return task_definition.arn, execution_policy_resource

    def _autoscaling(
        self,
        name: str,
        args: EcsServiceArgs,
        band: AutoscalingArgs,
        service: aws.ecs.Service,
        *,
        request_label: pulumi.Output[str] | None,
        child: pulumi.ResourceOptions,
    ) -> None:
        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.format("service/{0}/{1}", args.cluster_name, service.name),
            min_capacity=band.min_count,
            max_capacity=band.max_count,
            opts=child,
        )
        metrics: list[tuple[str, int, dict[str, object]]] = [
            ("cpu", band.cpu_target, {"predefined_metric_type": "ECSServiceAverageCPUUtilization"})
        ]
        if band.memory_target is not None:
            metrics.append(
                (
                    "memory",
                    band.memory_target,
                    {"predefined_metric_type": "ECSServiceAverageMemoryUtilization"},
                )
            )
        if band.requests_per_target is not None and request_label is not None:
            metrics.append(
                (
                    "requests",
                    band.requests_per_target,
                    {
                        "predefined_metric_type": "ALBRequestCountPerTarget",
                        "resource_label": request_label,
                    },
                )
            )
        for metric, target_value, specification in metrics:
            aws.appautoscaling.Policy(
                f"{name}-{metric}-scaling",
                name=f"{args.service_name}-{metric}-target-tracking",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": target_value,
                    "predefined_metric_specification": specification,
                    "scale_out_cooldown": band.scale_out_cooldown,
                    "scale_in_cooldown": band.scale_in_cooldown,
                },
                opts=child,
            )
