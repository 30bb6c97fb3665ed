"""EcsService: how one microservice runs.

Execution and task roles, the Fargate task definition, the ECS service and its autoscaling.
How the service is reached and where it logs (security group, Cloud Map service, target
group, log group) is its ServiceEndpoint's, which may live in another stack: this component
takes those as plain inputs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import release_time
from components.alarms import ServiceAlarmArgs, alarm_definitions
from components.cluster import CapacityProviderShare, strategy_inputs
from components.security_documents import infrastructure_trust_policy
from components.service_image import ServiceImage, ServiceImageArgs
from components.service_table import ServiceTable, ServiceTableArgs
from components.task import (
    TMP_VOLUME,
    Container,
    assume_role_policy,
    execution_policy,
    task_containers,
    task_policy,
)
from components.tracing import CollectorArgs, exporter_policy, tracing_environment
from config.limits import SERVICE_CONNECT_PROXY_MEMORY

SCALE_OUT_COOLDOWN = 60
SCALE_IN_COOLDOWN = 300
# The provider waits 20 minutes by default for an ECS service's create and update
# (terraform-provider-aws internal/service/ecs/service.go, `Timeouts`), and with
# wait_for_steady_state its wait lasts until the service deployment is SUCCESSFUL (bake time
# included) or has rolled back. A release longer than that fails `pulumi up` while ECS carries
# on, so each service waits for its own estimate (components/release_time.py) instead:
# the release at the most tasks it may run, then its rollback (a release that fails at its end
# rolls back before the deployment is over), plus half again and five minutes. The half covers
# the model's assumed task start (AWS publishes none) and the five minutes ECS's scheduling and
# the provider's polling. Never under the provider's own default.
PROVIDER_DEFAULT_WAIT_MINUTES = 20
RELEASE_WAIT_FACTOR = 1.5
RELEASE_WAIT_SLACK_SECONDS = 300
SERVICE_CONNECT_LOG_PREFIX = "service-connect"
# The AWS managed policy for the role ECS uses to shift load balancer traffic.
LOAD_BALANCER_INFRASTRUCTURE_POLICY = "AmazonECSInfrastructureRolePolicyForLoadBalancers"


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


def service_connect_configuration(sc: ServiceConnectArgs, region: str) -> dict[str, Any]:
    """The service's serviceConnectConfiguration: one client-server endpoint."""
    return {
        "enabled": True,
        "namespace": sc.namespace,
        "services": [
            {
                "port_name": sc.port_name,
                "discovery_name": sc.discovery_name,
                "client_alias": [{"dns_name": sc.dns_name, "port": sc.port}],
                "timeout": {"per_request_timeout_seconds": sc.per_request_timeout_seconds},
            }
        ],
        "log_configuration": {
            "log_driver": "awslogs",
            "options": {
                "awslogs-group": sc.log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": sc.log_stream_prefix,
            },
        },
    }


def deployment_configuration(rollout: RolloutArgs) -> dict[str, Any]:
    """The service's deploymentConfiguration, sent for every strategy, rolling included.

    The provider keeps the block's old value when it is left out (Optional and Computed in
    terraform-provider-aws internal/service/ecs/service.go), so a service leaving canary must
    say ROLLING. The bake time and the canary and linear settings are sent only with the
    strategies that use them (ECS takes them for those); left out, they keep their old values,
    which no other strategy reads (offline/change/sticky.py lists them)."""
    if not rollout.shifts_traffic:
        return {"strategy": rollout.strategy}
    configuration: dict[str, Any] = {
        "strategy": rollout.strategy,
        # The provider takes the minutes as strings.
        "bake_time_in_minutes": str(rollout.bake_time_minutes),
    }
    if rollout.strategy == "CANARY":
        configuration["canary_configuration"] = {
            "canary_percent": rollout.canary_percent,
            "canary_bake_time_in_minutes": str(rollout.canary_bake_time_minutes),
        }
    if rollout.strategy == "LINEAR":
        configuration["linear_configuration"] = {
            "step_percent": rollout.step_percent,
            "step_bake_time_in_minutes": str(rollout.step_bake_time_minutes),
        }
    return configuration


def deployment_alarms(
    release_alarms: Sequence[pulumi.Input[str]],
    other_alarms: Sequence[pulumi.Input[str]],
    *,
    rollback: bool,
) -> dict[str, Any] | None:
    """The service's alarms block, sent whatever the choice: the provider sends nothing when
    the block is left out (a missing block's diff is suppressed), so ECS would keep rolling
    back after rollback was turned off. `alarm_names` is required, so a service without
    release alarms names its others, watched by nothing."""
    watching = bool(release_alarms) and rollback
    names = list(release_alarms) or list(other_alarms)
    if not names:
        return None
    return {"alarm_names": names, "enable": watching, "rollback": watching}


@dataclass(frozen=True, kw_only=True)
class LiveGroups:
    serving_arn: pulumi.Output[str]
    """The group the production rule sends traffic to: the service registers there."""
    standby_arn: pulumi.Output[str] | None
    """The other group, which a traffic-shifting release fills."""
    serving_suffix: pulumi.Output[str] | None


def serving_group(actions: Any, primary: str, alternate: str) -> str:
    """The group of the two that a rule's forward action gives the most weight (the primary on
    a tie, or for a rule not read); a rule forwards all of it to one group after any finished
    release."""
    weights = {primary: 0, alternate: 0}
    for action in actions or []:
        for forward in _get(action, "forwards") or []:
            for group in _get(forward, "target_groups") or []:
                arn, weight = _get(group, "arn"), _get(group, "weight")
                if arn in weights and isinstance(weight, int | float):
                    weights[arn] += weight
    return alternate if weights[alternate] > weights[primary] else primary


def _get(value: Any, key: str) -> Any:
    """A field of an invoke result, as an object or as a plain mapping."""
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def release_settings(args: EcsServiceArgs) -> release_time.ServiceSettings:
    """What the release-time model needs, from the service's own arguments, at the most tasks
    it may run (a release then takes longest)."""
    tg = args.target_group
    rollout = args.rollout
    band = args.autoscaling
    container = args.container
    return release_time.ServiceSettings(
        strategy=rollout.strategy,
        desired_count=max(args.desired_count, band.max_count if band is not None else 0),
        minimum_healthy_percent=args.deployment.minimum_healthy_percent,
        maximum_percent=args.deployment.maximum_percent,
        load_balanced=tg is not None,
        target_group=(
            release_time.TargetGroupSettings(
                interval=tg.health_check_interval,
                healthy_threshold=tg.healthy_threshold,
                unhealthy_threshold=tg.unhealthy_threshold,
                deregistration_delay=tg.deregistration_delay,
            )
            if tg is not None
            else None
        ),
        health_check_grace_period=args.deployment.health_check_grace_period if tg else 0,
        stop_timeout=container.stop_timeout if container is not None else 30,
        bake_time_minutes=rollout.bake_time_minutes or 0,
        canary_percent=rollout.canary_percent or release_time.DEFAULT_CANARY_PERCENT,
        canary_bake_minutes=(
            rollout.canary_bake_time_minutes
            if rollout.canary_bake_time_minutes is not None
            else release_time.DEFAULT_CANARY_BAKE_MINUTES
        ),
        step_percent=rollout.step_percent or release_time.DEFAULT_STEP_PERCENT,
        step_bake_minutes=(
            rollout.step_bake_time_minutes
            if rollout.step_bake_time_minutes is not None
            else release_time.DEFAULT_STEP_BAKE_MINUTES
        ),
        service_connect=args.service_connect is not None,
    )


def release_wait_minutes(settings: release_time.ServiceSettings) -> int:
    """How long `pulumi up` waits for one release of the service (see the constants above)."""
    estimate = release_time.estimate(settings)
    worst = (estimate.release_done_seconds or 0) + (estimate.rollback_done_seconds or 0)
    minutes = math.ceil((worst * RELEASE_WAIT_FACTOR + RELEASE_WAIT_SLACK_SECONDS) / 60)
    return max(PROVIDER_DEFAULT_WAIT_MINUTES, minutes)


class EcsService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service_arn: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str] | None
    release_alarm_names: list[pulumi.Output[str]]
    """The alarms that roll a deployment back."""
    release_wait_minutes: int
    """How long `pulumi up` waits for the service to create or release."""

    def __init__(
        self, name: str, args: EcsServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:ecs_service:EcsService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        port = args.container_port
        self.release_wait_minutes = release_wait_minutes(release_settings(args))
        self._role_attachments: list[pulumi.Resource] = []

        # --- task definition --------------------------------------------------------------
        self.task_role_arn = None
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

        # --- the ECS service ----------------------------------------------------------------
        deployment = args.deployment
        tg = args.target_group
        rollout = args.rollout
        release_alarms, other_alarms = (
            self._alarms(name, args) if args.alarms is not None else ([], [])
        )
        # ECS shifts a load balancer's traffic with this role; Service Connect traffic needs
        # none.
        infrastructure_role = (
            self._infrastructure_role(name, args)
            if rollout.shifts_traffic and tg is not None
            else None
        )
        load_balancer: dict[str, Any] | None = None
        groups = (
            self._live_groups(tg, follow=not rollout.shifts_traffic) if tg is not None else None
        )
        if tg is not None and groups is not None:
            load_balancer = {
                "target_group_arn": groups.serving_arn,
                "container_name": args.container_name,
                "container_port": port,
            }
            if infrastructure_role is not None:
                load_balancer["advanced_configuration"] = {
                    "alternate_target_group_arn": groups.standby_arn,
                    "production_listener_rule": tg.production_listener_rule_arn,
                    "role_arn": infrastructure_role.arn,
                }
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
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=deployment.minimum_healthy_percent,
            deployment_maximum_percent=deployment.maximum_percent,
            health_check_grace_period_seconds=(
                deployment.health_check_grace_period if tg is not None else None
            ),
            service_registries=(
                {"registry_arn": args.discovery_service_arn}
                if args.discovery_service_arn is not None
                else None
            ),
            load_balancers=[load_balancer] if load_balancer is not None else None,
            service_connect_configuration=(
                service_connect_configuration(args.service_connect, args.region)
                if args.service_connect is not None
                else None
            ),
            # ECS's own controller, said every time: a removed block is not sent, so what was
            # deployed would stay.
            deployment_controller={"type": "ECS"},
            deployment_configuration=deployment_configuration(rollout),
            # The alarms that mean "this release is bad" roll the deployment back, as the
            # circuit breaker does for tasks that fail to start. ECS ignores an alarm that is
            # already in ALARM when the deployment starts.
            alarms=deployment_alarms(
                [alarm.name for alarm in release_alarms],
                [alarm.name for alarm in other_alarms],
                rollback=args.alarms is not None and args.alarms.rollback,
            ),
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=deployment.wait_for_steady_state,
            opts=pulumi.ResourceOptions(
                parent=self,
                # A first deployment of a traffic-shifting service is waited on as a release.
                # AWS's blue/green and canary pages say nothing of a new service's first
                # deployment; the provider waits for the service deployment on create as on
                # update (hashicorp/terraform-provider-aws#43434: "Ensures lifecycle hooks
                # complete during creation"), and a live observation reports the rule at
                # green 100 after a first deployment (go-to-k/cdk-real-drift#1730). So the
                # create may bake as long as a release.
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{self.release_wait_minutes}m",
                    update=f"{self.release_wait_minutes}m",
                ),
                # Tasks fail to start without the agent's permissions, and ECS shifts traffic
                # only with its role's policy attached. (A target group from a ServiceEndpoint
                # carries the wait for its listener rules in its ARN.)
                depends_on=[*task_prerequisites, *self._role_attachments, *args.start_after],
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
                        "{0}/{1}", tg.load_balancer_arn_suffix, groups.serving_suffix
                    )
                    if tg is not None
                    and groups is not None
                    and tg.load_balancer_arn_suffix is not None
                    and groups.serving_suffix is not None
                    else None
                ),
                child=child,
            )

        self.release_alarm_names = [alarm.name for alarm in release_alarms]
        self.service_name = service.name
        self.service_arn = service.arn
        self.task_definition_arn = pulumi.Output.from_input(task_definition_arn)
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "serviceArn": self.service_arn,
                "taskDefinitionArn": self.task_definition_arn,
            }
        )

    def _live_groups(self, tg: TargetGroupArgs, *, follow: bool) -> LiveGroups:
        """The group the service registers into. A rolling service (`follow`) registers where
        the production rule sends traffic, read from AWS at each `pulumi up`: ECS moves the
        rule's weights in every traffic-shifting release and the program never moves them back
        (the rule ignores changes to its actions), so a service that leaves canary, linear or
        blue/green keeps serving from the group its last release left live, and no request
        meets an empty group. Nothing moves the weights while it rolls, so its groups stay put
        from one `pulumi up` to the next. A traffic-shifting service keeps its two groups in
        their fixed roles and lets ECS pick from the rule at each release: following the rule
        there would swap them after every release, and the next `pulumi up` would be one more
        release."""
        if (
            not follow
            or tg.production_listener_rule_arn is None
            or tg.alternate_target_group_arn is None
        ):
            return LiveGroups(
                serving_arn=pulumi.Output.from_input(tg.target_group_arn),
                standby_arn=(
                    pulumi.Output.from_input(tg.alternate_target_group_arn)
                    if tg.alternate_target_group_arn is not None
                    else None
                ),
                serving_suffix=(
                    pulumi.Output.from_input(tg.target_group_arn_suffix)
                    if tg.target_group_arn_suffix is not None
                    else None
                ),
            )
        rule = aws.lb.get_listener_rule_output(
            arn=tg.production_listener_rule_arn, opts=pulumi.InvokeOptions(parent=self)
        )
        live = pulumi.Output.all(
            rule.actions, tg.target_group_arn, tg.alternate_target_group_arn
        ).apply(lambda values: serving_group(values[0], values[1], values[2]))
        primary_serves = pulumi.Output.all(live, tg.target_group_arn).apply(
            lambda values: values[0] == values[1]
        )

        def pick(primary: pulumi.Input[str] | None, alternate: pulumi.Input[str] | None) -> Any:
            return pulumi.Output.all(primary_serves, primary, alternate).apply(
                lambda values: values[1] if values[0] else values[2]
            )

        return LiveGroups(
            serving_arn=pick(tg.target_group_arn, tg.alternate_target_group_arn),
            standby_arn=pick(tg.alternate_target_group_arn, tg.target_group_arn),
            serving_suffix=(
                pick(tg.target_group_arn_suffix, tg.alternate_target_group_arn_suffix)
                if tg.target_group_arn_suffix is not None
                else None
            ),
        )

    def _alarms(
        self, name: str, args: EcsServiceArgs
    ) -> tuple[list[aws.cloudwatch.MetricAlarm], list[aws.cloudwatch.MetricAlarm]]:
        """Every alarm of the service: the release alarms, and the others."""
        assert args.alarms is not None
        release, other = [], []
        for definition in alarm_definitions(
            args.alarms, cluster_name=args.cluster_name, service_name=args.service_name
        ):
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{definition.suffix}",
                name=f"{args.alarms.name_prefix}-{definition.suffix}",
                alarm_description=definition.description,
                alarm_actions=[args.alarms.topic_arn],
                ok_actions=[args.alarms.topic_arn],
                **definition.inputs,
                # Alarm names are unique per account and region.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            (release if definition.release else other).append(alarm)
        return release, other

    def _infrastructure_role(self, name: str, args: EcsServiceArgs) -> aws.iam.Role:
        """The role ECS assumes to shift listener-rule weights between the two target groups,
        with the AWS managed policy for it
        (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html)."""
        role = aws.iam.Role(
            f"{name}-infrastructure-role",
            description=f"ECS shifts load balancer traffic for {args.service_name}",
            assume_role_policy=json.dumps(infrastructure_trust_policy()),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._role_attachments.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-infrastructure-policy",
                role=role.name,
                policy_arn=pulumi.Output.format(
                    "arn:{0}:iam::aws:policy/{1}",
                    args.partition,
                    LOAD_BALANCER_INFRASTRUCTURE_POLICY,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        )
        return role

    def _task_definition(
        self,
        name: str,
        args: EcsServiceArgs,
        container: ContainerArgs,
    ) -> tuple[pulumi.Output[str], aws.iam.RolePolicy]:
        child = pulumi.ResourceOptions(parent=self)

        def trust(region: str | None) -> pulumi.Output[str]:
            return pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    assume_role_policy(account_id=values[0], region=region, partition=values[1])
                )
            )

        image: pulumi.Input[str] = container.image
        repository_arn: pulumi.Input[str] | None = None
        if container.build is not None:
            built = ServiceImage(
                f"{name}-image", container.build, pulumi.ResourceOptions(parent=self)
            )
            image, repository_arn = built.image_uri, built.repository_arn
        table_name: pulumi.Input[str] | None = None
        table = None
        if container.table is not None:
            table = ServiceTable(
                f"{name}-data", container.table, pulumi.ResourceOptions(parent=self)
            )
            table_name = table.table_name

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
            policy=pulumi.Output.all(container.log_group_arn, args.partition, repository_arn).apply(
                lambda values: json.dumps(
                    execution_policy(
                        log_group_arn=values[0],
                        secrets=list(container.secrets.values()),
                        image=container.image,
                        partition=values[1],
                        secret_kms_keys=container.secret_kms_keys,
                        repository_arns=[values[2]] if values[2] else (),
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

        if table is not None:
            # The application's own table: its items and its key, nothing else.
            aws.iam.RolePolicy(
                f"{name}-table-policy",
                role=task_role.id,
                policy=table.access_policy(args.region),
                opts=child,
            )

        sc = args.service_connect
        proxy_memory = SERVICE_CONNECT_PROXY_MEMORY if sc is not None else 0
        collector = container.collector
        if collector is not None:
            # The collector's only permissions: write spans to X-Ray, read its sampling rules.
            aws.iam.RolePolicy(
                f"{name}-tracing-policy",
                role=task_role.id,
                policy=json.dumps(exporter_policy()),
                opts=child,
            )

        def container_definitions(values: list[Any]) -> str:
            log_group, image_uri, own_table = values
            environment = dict(container.environment)
            if own_table is not None:
                environment["TABLE_NAME"] = own_table
            if collector is not None:
                environment = {
                    **tracing_environment(args.service_name, collector),
                    **environment,
                }
            return json.dumps(
                task_containers(
                    Container(
                        name=args.container_name,
                        image=image_uri,
                        port=args.container_port,
                        environment=environment,
                        secrets=container.secrets,
                        user=container.user,
                        log_group=log_group,
                        region=args.region,
                        stop_timeout=container.stop_timeout,
                        # The collector's share is carved out of the task's, and with limits
                        # set the Service Connect proxy needs memory left over.
                        cpu=container.cpu - collector.cpu if collector else None,
                        memory=(
                            container.memory - collector.memory - proxy_memory
                            if collector
                            else None
                        ),
                        port_name=sc.port_name if sc is not None else None,
                    ),
                    prepare_tmp=container.prepare_tmp,
                    collector=collector,
                )
            )

        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=container.family or name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(container.cpu),
            memory=str(container.memory),
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": container.cpu_architecture,
            },
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[{"name": TMP_VOLUME}],
            # Read from the log group's output, so that the log group exists first.
            container_definitions=pulumi.Output.all(
                container.log_group_name, image, table_name
            ).apply(container_definitions),
            # The agent must hold its permissions before a task starts: IAM changes reach ECS
            # only once the policy is attached.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[execution_policy_resource]),
        )
        self.task_role_arn = task_role.arn
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
