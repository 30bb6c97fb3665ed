"""ServiceNamespace: the Cloud Map private DNS namespace the services register in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class ServiceNamespaceArgs:
    namespace: str
    """The DNS domain, e.g. `dev.internal`."""
    vpc_id: pulumi.Input[str]


class ServiceNamespace(pulumi.ComponentResource):
    namespace_id: pulumi.Output[str]
    namespace_arn: pulumi.Output[str]
    namespace_name: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:namespace:ServiceNamespace", name, None, opts)
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace",
            name=args.namespace,
            vpc=args.vpc_id,
            description=f"Service discovery for the microservices in {args.namespace}",
            # A fixed name: the old namespace (and its hosted zone) goes before a new one with
            # the same name is created.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.namespace_id = namespace.id
        self.namespace_arn = namespace.arn
        self.namespace_name = namespace.name
        self.hosted_zone_id = namespace.hosted_zone
        self.register_outputs(
            {
                "namespaceId": self.namespace_id,
                "namespaceArn": self.namespace_arn,
                "namespaceName": self.namespace_name,
                "hostedZoneId": self.hosted_zone_id,
            }
        )
