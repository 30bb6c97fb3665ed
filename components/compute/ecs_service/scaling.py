"""A service's autoscaling: its scalable target and a target-tracking policy per metric (CPU,
memory, and the load balancer's requests per target when routed)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.compute.ecs_service.args import AutoscalingArgs, EcsServiceArgs


def autoscaling(
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
