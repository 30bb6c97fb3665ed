"""Wiring only: stack config -> validated settings -> Platform -> stack outputs."""

import pulumi

import naming
from components.platform import Platform, PlatformArgs
from config import ConfigError, load_settings, read_stack_config

stack_input = read_stack_config()
try:
    settings = load_settings(
        stack_input.raw,
        stack=pulumi.get_stack(),
        project=pulumi.get_project(),
        region=stack_input.region,
        deploying=not pulumi.runtime.is_dry_run(),
        secret_keys=stack_input.secret_keys,
        secret_paths=stack_input.secret_paths,
        foreign_keys=stack_input.foreign_keys,
        other_stacks=stack_input.other_stacks,
    )
except ConfigError as error:
    # RunError stops the program with the message alone, no traceback.
    raise pulumi.RunError(str(error)) from None
for warning in settings.warnings:
    pulumi.log.warn(warning)

platform = Platform(naming.platform(settings.stack), PlatformArgs(settings=settings))

pulumi.export("albDnsName", platform.load_balancer.dns_name)
pulumi.export("url", platform.load_balancer.url)
pulumi.export("clusterName", platform.cluster.cluster_name)
pulumi.export("clusterArn", platform.cluster.cluster_arn)
pulumi.export("namespaceName", platform.namespace.namespace_name)
pulumi.export("namespaceId", platform.namespace.namespace_id)
pulumi.export(
    "services",
    {
        service.name: {
            "ecsServiceName": platform.services[service.name].service_name,
            "dnsName": service.dns_name,
            "url": service.url,
            **(
                {
                    "minCount": service.autoscaling.min_count,
                    "maxCount": service.autoscaling.max_count,
                }
                if service.autoscaling is not None
                else {"desiredCount": service.desired_count}
            ),
        }
        for service in settings.services
    },
)
