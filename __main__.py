"""Wiring only: stack config -> validated settings -> Platform and/or services -> stack outputs.

One program, three kinds of stack: all-in-one (the default), a platform stack
(`serviceStacks: true`) and a service stack (`platform: <org>/<project>/<stack>`).
"""

from typing import Any

import pulumi

import naming
from components.compute.ecs_service import EcsService
from components.platform import Platform, PlatformArgs
from components.platform_reference import read_platform_outputs
from components.service_runtime import platform_values, runtime_args, service_component_name
from config import (
    CONTRACT_OUTPUT,
    CONTRACT_VERSION,
    VERSION_OUTPUT,
    ConfigError,
    ServiceSettings,
    load_settings,
    read_stack_config,
    service_stack_reference,
)

stack_input = read_stack_config()
try:
    reference = service_stack_reference(stack_input.raw, pulumi.get_stack())
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
        platform=read_platform_outputs(reference) if reference is not None else None,
    )
except ConfigError as error:
    # RunError stops the program with the message alone, no traceback.
    raise pulumi.RunError(str(error)) from None
for warning in settings.warnings:
    pulumi.log.warn(warning)


def service_output(service: ServiceSettings, ecs_service_name: Any) -> dict[str, Any]:
    band = service.autoscaling
    return {
        "ecsServiceName": ecs_service_name,
        "dnsName": service.dns_name,
        "url": service.url,
        **(
            {"minCount": band.min_count, "maxCount": band.max_count}
            if band is not None
            else {"desiredCount": service.desired_count}
        ),
    }


if settings.role == "service":
    shared, endpoints = platform_values(settings)
    runtimes = {
        service.name: EcsService(
            service_component_name(settings, service.name),
            runtime_args(settings, service, shared, endpoints[service.name]),
        )
        for service in settings.services
    }
    pulumi.export("platform", reference)
    pulumi.export(
        "services",
        {
            service.name: service_output(service, runtimes[service.name].service_name)
            for service in settings.services
        },
    )
else:
    platform = Platform(
        naming.platform(settings.stack),
        PlatformArgs(settings=settings, run_services=settings.role == "all-in-one"),
    )
    pulumi.export("albDnsName", platform.load_balancer.dns_name)
    pulumi.export("url", platform.load_balancer.url)
    pulumi.export("clusterName", platform.cluster.cluster_name)
    pulumi.export("clusterArn", platform.cluster.cluster_arn)
    pulumi.export("namespaceName", platform.namespace.namespace_name)
    pulumi.export("namespaceId", platform.namespace.namespace_id)
    if settings.role == "platform":
        pulumi.export(VERSION_OUTPUT, CONTRACT_VERSION)
        pulumi.export(CONTRACT_OUTPUT, platform.contract(settings))
    else:
        pulumi.export(
            "services",
            {
                service.name: service_output(service, platform.services[service.name].service_name)
                for service in settings.services
            },
        )
