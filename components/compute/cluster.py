"""EcsCluster: the ECS cluster, Container Insights and its Fargate capacity providers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

FARGATE_CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True, kw_only=True)
class CapacityProviderShare:
    """One entry of a capacity provider strategy."""

    provider: str
    weight: int
    base: int = 0


@dataclass(frozen=True, kw_only=True)
class EcsClusterArgs:
    cluster_name: str
    container_insights: str = "enabled"
    """enabled | enhanced | disabled"""
    default_strategy: tuple[CapacityProviderShare, ...] = (
        CapacityProviderShare(provider="FARGATE", weight=1, base=1),
    )


def strategy_inputs(
    strategy: tuple[CapacityProviderShare, ...],
) -> list[dict[str, object]]:
    return [
        {"capacity_provider": share.provider, "weight": share.weight, "base": share.base}
        for share in strategy
    ]


class EcsCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    """The cluster's ARN, available only once its capacity providers are attached, so that
    services created from it never race the association."""

    def __init__(
        self, name: str, args: EcsClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:cluster:EcsCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            settings=[{"name": "containerInsights", "value": args.container_insights}],
            # A fixed name, unique in the account and region.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=list(FARGATE_CAPACITY_PROVIDERS),
            default_capacity_provider_strategies=strategy_inputs(args.default_strategy),
            opts=child,
        )

        self.cluster_name = cluster.name
        # A service whose strategy names a provider not yet attached fails to create.
        self.cluster_arn = pulumi.Output.all(cluster.arn, capacity.id).apply(
            lambda values: values[0]
        )
        self.register_outputs({"clusterName": self.cluster_name, "clusterArn": self.cluster_arn})
