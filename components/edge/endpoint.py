"""ServiceEndpoint: how one microservice is reached, and where it logs.

Its security group with the rules of the call graph (and the ALB's, if routed), its Cloud Map
service, its target group and listener rules, and its log group: everything that wires the
service to the others. What runs behind it (task definition, roles, ECS service, scaling) is
an EcsService, which may live in another stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pulumi
import pulumi_aws as aws

import naming


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
class ListenerRoutesArgs:
    """Put the service behind an ALB listener: a target group and one rule per route."""

    security_group_id: pulumi.Input[str]
    """The ALB's security group, admitted to the container port."""
    listener_arn: pulumi.Input[str]
    routes: Sequence[RouteArgs]
    health_check: HealthCheckArgs = HealthCheckArgs()
    deregistration_delay: int = 30

    def __post_init__(self) -> None:
        if not self.routes:
            raise ValueError("a listener attachment needs at least one route")


@dataclass(frozen=True, kw_only=True)
class ServiceDiscoveryArgs:
    namespace_id: pulumi.Input[str]
    dns_name: str
    """The service's name in the namespace, e.g. `users`."""
    ttl: int = 10


@dataclass(frozen=True, kw_only=True)
class LogGroupArgs:
    name: str
    retention_days: int = 30
    kms_key_arn: pulumi.Input[str] | None = None
    """Encrypt the log group with this customer-managed key."""
    retain_on_delete: bool = False
    """Leave the log group in the account when the stack is destroyed."""


@dataclass(frozen=True, kw_only=True)
class ServiceEndpointArgs:
    service_name: str
    vpc_id: pulumi.Input[str]
    container_port: int
    log_group: LogGroupArgs
    callers: Mapping[str, pulumi.Input[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Calling service name -> its security group id; each is admitted to the container port."""
    service_discovery: ServiceDiscoveryArgs | None = None
    """A Cloud Map service with DNS records for the tasks. None under ECS Service Connect,
    where ECS creates the Cloud Map service of the same name itself."""
    listener: ListenerRoutesArgs | None = None


def route_conditions(route: RouteArgs) -> list[dict[str, object]]:
    conditions: list[dict[str, object]] = []
    if route.path_patterns:
        conditions.append({"path_pattern": {"values": list(route.path_patterns)}})
    if route.host_patterns:
        conditions.append({"host_header": {"values": list(route.host_patterns)}})
    return conditions


def _allow_tcp(
    *,
    ingress_name: str,
    egress_name: str,
    source_group_id: pulumi.Input[str],
    target_group_id: pulumi.Input[str],
    port: int,
    description: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """One port from one security group to another: the target's ingress rule and the
    source's egress rule, since neither group allows anything it is not told to."""
    aws.vpc.SecurityGroupIngressRule(
        ingress_name,
        security_group_id=target_group_id,
        referenced_security_group_id=source_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=description,
        opts=opts,
    )
    aws.vpc.SecurityGroupEgressRule(
        egress_name,
        security_group_id=source_group_id,
        referenced_security_group_id=target_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=description,
        opts=opts,
    )


class ServiceEndpoint(pulumi.ComponentResource):
    security_group_id: pulumi.Output[str]
    discovery_service_arn: pulumi.Output[str] | None
    target_group_arn: pulumi.Output[str] | None
    """Known only once a listener rule forwards to the group: ECS refuses a target group that
    no listener forwards to yet, so an ECS service built from it waits for the rules."""
    target_group_arn_suffix: pulumi.Output[str] | None
    alternate_target_group_arn: pulumi.Output[str] | None
    alternate_target_group_arn_suffix: pulumi.Output[str] | None
    production_listener_rule_arn: pulumi.Output[str] | None
    """The one listener rule of a service with one route, whose weights ECS shifts."""
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ServiceEndpointArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        moved_from: pulumi.Input[str] | None = None,
    ) -> None:
        """`moved_from`: the URN of the component that held these resources before, so that a
        stack deployed then keeps them (Pulumi aliases) rather than replacing them."""
        super().__init__("microservices:endpoint:ServiceEndpoint", name, None, opts)
        aliases = [pulumi.Alias(parent=moved_from)] if moved_from is not None else None
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)

        def options(**extra: object) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(**extra))  # type: ignore[arg-type]

        port = args.container_port

        # --- the service's own group, open only to the ALB and its callers -----------------
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
            # The rule on the caller's group lives here: the callee knows its port.
            _allow_tcp(
                ingress_name=f"{name}-from-{caller}",
                egress_name=f"{name}-egress-from-{caller}",
                source_group_id=caller_group_id,
                target_group_id=security_group.id,
                port=port,
                description=f"{caller} calls {args.service_name}",
                opts=child,
            )

        # --- logs --------------------------------------------------------------------------
        logs = args.log_group
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=logs.name,
            retention_in_days=logs.retention_days,
            kms_key_id=logs.kms_key_arn,
            # A fixed name: the old group must go before a replacement can take it.
            opts=options(delete_before_replace=True, retain_on_delete=logs.retain_on_delete),
        )

        # --- service discovery ------------------------------------------------------------
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
                # threshold at 1 and the provider marks it deprecated, but an empty block is
                # not sent to AWS and then reads back as a diff that replaces the service on
                # every update (hashicorp/terraform-provider-aws#44285). So it stays set, and
                # each `pulumi preview` carries the provider's deprecation warning for it.
                health_check_custom_config={"failure_threshold": 1},
                # ECS deregisters tasks itself; leftovers must not block a destroy.
                force_destroy=True,
                # The name is fixed and unique in the namespace: a replacement must delete
                # the old service before it creates the new one.
                opts=options(delete_before_replace=True),
            )
            self.discovery_service_arn = registry.arn

        # --- load balancer ----------------------------------------------------------------
        self.target_group_arn = None
        self.target_group_arn_suffix = None
        self.alternate_target_group_arn = None
        self.alternate_target_group_arn_suffix = None
        self.production_listener_rule_arn = None
        if args.listener is not None:
            self._listener_routes(name, args, args.listener, security_group.id, child)

        self.security_group_id = security_group.id
        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn
        self.register_outputs(
            {
                "securityGroupId": self.security_group_id,
                "discoveryServiceArn": self.discovery_service_arn,
                "targetGroupArn": self.target_group_arn,
                "logGroupName": self.log_group_name,
            }
        )

    def _listener_routes(
        self,
        name: str,
        args: ServiceEndpointArgs,
        lb: ListenerRoutesArgs,
        security_group_id: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        port = args.container_port
        _allow_tcp(
            ingress_name=f"{name}-from-alb",
            egress_name=f"{name}-alb-egress",
            source_group_id=lb.security_group_id,
            target_group_id=security_group_id,
            port=port,
            description=f"load balancer to {args.service_name}",
            opts=child,
        )
        health = lb.health_check
        target_group_inputs: dict[str, Any] = {
            "target_type": "ip",
            "port": port,
            "protocol": "HTTP",
            "vpc_id": args.vpc_id,
            "deregistration_delay": lb.deregistration_delay,
            "health_check": {
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
        }
        target_group = aws.lb.TargetGroup(
            naming.target_group(name), **target_group_inputs, opts=child
        )
        # A second, identical group, so that the service can take ECS's blue/green, linear
        # and canary deployments, which move traffic from one group to the other
        # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html).
        alternate = aws.lb.TargetGroup(
            naming.alternate_target_group(name),
            **target_group_inputs,
            opts=child,
        )
        # ECS moves the weights of the rule of a service with one route in its
        # traffic-shifting releases, and the service follows them (EcsService registers where
        # the rule sends traffic): `pulumi up` must not move them back. The rules of a service
        # with several routes are the program's alone: only rolling updates reach them.
        shifted_by_ecs = len(lb.routes) == 1
        rules = [
            aws.lb.ListenerRule(
                f"{name}-rule-{route.priority}",
                listener_arn=lb.listener_arn,
                priority=route.priority,
                # Every request to the primary group until a release shifts the weights.
                actions=[
                    {
                        "type": "forward",
                        "forward": {
                            "target_groups": [
                                {"arn": target_group.arn, "weight": 100},
                                {"arn": alternate.arn, "weight": 0},
                            ]
                        },
                    }
                ],
                conditions=route_conditions(route),
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(ignore_changes=["actions"] if shifted_by_ecs else None),
                ),
            )
            for route in lb.routes
        ]

        def after_rules(arn: pulumi.Output[str]) -> pulumi.Output[str]:
            return pulumi.Output.all(arn, *(rule.arn for rule in rules)).apply(
                lambda values: values[0]
            )

        self.target_group_arn = after_rules(target_group.arn)
        self.target_group_arn_suffix = target_group.arn_suffix
        self.alternate_target_group_arn = after_rules(alternate.arn)
        self.alternate_target_group_arn_suffix = alternate.arn_suffix
        # ECS shifts one production rule; a service with more routes takes rolling updates.
        self.production_listener_rule_arn = rules[0].arn if len(rules) == 1 else None
