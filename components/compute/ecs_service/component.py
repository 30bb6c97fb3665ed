"""EcsService: how one microservice runs.

Execution and task roles, the Fargate task definition, the ECS service and its autoscaling.
How the service is reached and where it logs (security group, Cloud Map service, target
group, log group) is its ServiceEndpoint's, which may live in another stack: this component
takes those as plain inputs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.compute.cluster import strategy_inputs
from components.compute.containers import TMP_VOLUME, Container, task_containers
from components.compute.ecs_service.args import ContainerArgs, EcsServiceArgs, TargetGroupArgs
from components.compute.ecs_service.release import (
    LiveGroups,
    deployment_alarms,
    deployment_configuration,
    infrastructure_trust_policy,
    release_settings,
    release_wait_minutes,
    service_connect_configuration,
    serving_group,
)
from components.compute.ecs_service.scaling import autoscaling
from components.compute.image import ServiceImage
from components.compute.task_iam import assume_role_policy, execution_policy, task_policy
from components.data.table import ServiceTable
from components.events import EventQueue, EventRelay
from components.observability.alarms import alarm_definitions
from components.observability.tracing import exporter_policy, tracing_environment

# The AWS managed policy for the role ECS uses to shift load balancer traffic.
LOAD_BALANCER_INFRASTRUCTURE_POLICY = "AmazonECSInfrastructureRolePolicyForLoadBalancers"


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
            autoscaling(
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
            if container.relay is not None:
                EventRelay(
                    f"{name}-relay",
                    dataclasses.replace(
                        container.relay,
                        stream_arn=table.stream_arn,
                        stream_grant=table.stream_read_grant(args.region),
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
        queue = (
            EventQueue(
                f"{name}-events", container.events_queue, pulumi.ResourceOptions(parent=self)
            )
            if container.events_queue is not None
            else None
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

        if queue is not None:
            # Its own queue's messages, and the events key through SQS.
            aws.iam.RolePolicy(
                f"{name}-events-policy",
                role=task_role.id,
                policy=queue.consumer_policy(args.region),
                opts=child,
            )

        sc = args.service_connect
        proxy_memory = sc.proxy_memory if sc is not None else 0
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
            log_group, image_uri, own_table, queue_url = values
            environment = dict(container.environment)
            if own_table is not None:
                environment["TABLE_NAME"] = own_table
            if queue_url is not None:
                environment["EVENTS_QUEUE_URL"] = queue_url
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
                container.log_group_name,
                image,
                table_name,
                queue.queue_url if queue is not None else None,
            ).apply(container_definitions),
            # The agent must hold its permissions before a task starts: IAM changes reach ECS
            # only once the policy is attached.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[execution_policy_resource]),
        )
        self.task_role_arn = task_role.arn
        return task_definition.arn, execution_policy_resource
