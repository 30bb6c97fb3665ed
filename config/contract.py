"""What a platform stack exports for its service stacks, and how a service stack reads it.

A platform stack (`serviceStacks: true`) exports `contractVersion` and `platform`: the
environment-wide settings its services run with, the shared resources (cluster, subnets, load
balancer) and every catalog service's endpoint. A service stack (`platform: org/project/stack`)
reads them through a StackReference instead of repeating them in its own config, and refuses a
platform whose contract is of another version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from config.issues import ConfigIssue, rm_command, set_command, show
from config.schema import (
    ClusterConfig,
    DeploymentConfig,
    DiscoveryConfig,
    LogsConfig,
    ObservabilityConfig,
)

CONTRACT_VERSION = 3
"""Raised whenever a field service stacks read changes meaning or goes away, or a platform
may now need something of its service stacks that an older program would not do. 2: the
discovery mode (a Service Connect platform's services must join Service Connect) and the
namespace ARN. 3: the events (the events key; each publisher's topic, relay log group and
relay failure queue): a publisher's service stack must now run its relay, a subscriber's its
queue."""
VERSION_OUTPUT = "contractVersion"
CONTRACT_OUTPUT = "platform"
PLATFORM_KEYS_IN_SERVICE_STACK = ("platform", "services")
"""The only keys a service stack holds; everything else belongs to its platform."""
STACK_REFERENCE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, kw_only=True)
class EndpointContract:
    security_group_id: str
    log_group_name: str
    log_group_arn: str
    discovery_service_arn: str | None = None
    target_group_arn: str | None = None
    target_group_arn_suffix: str | None = None
    alternate_target_group_arn: str | None = None
    alternate_target_group_arn_suffix: str | None = None
    production_listener_rule_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class PublisherContract:
    """What the platform holds for one publisher: its topic, its relay's log group and the
    queue its relay reports given-up batches to."""

    topic_arn: str
    relay_log_group_name: str
    relay_log_group_arn: str
    failure_queue_arn: str


@dataclass(frozen=True, kw_only=True)
class EventsContract:
    key_arn: str | None = None
    """The events key (topics and queues); None when no service publishes."""
    publishers: Mapping[str, PublisherContract] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PlatformContract:
    reference: str
    """`org/project/stack` of the platform stack."""
    project: str
    stack: str
    region: str
    environment: str
    namespace: str
    cluster: ClusterConfig
    deployment: DeploymentConfig
    logs: LogsConfig
    cluster_arn: str
    cluster_name: str
    private_subnet_ids: tuple[str, ...]
    load_balancer_arn_suffix: str
    alerts_topic_arn: str
    endpoints: Mapping[str, EndpointContract]
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    """Absent from platforms deployed before tracing: their defaults."""
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    """The mode its services join, and their default per-request timeout."""
    namespace_arn: str | None = None
    events: EventsContract = field(default_factory=EventsContract)


def settings_document(
    *,
    project: str,
    stack: str,
    region: str,
    environment: str,
    namespace: str,
    cluster: ClusterConfig,
    deployment: DeploymentConfig,
    logs: LogsConfig,
    observability: ObservabilityConfig,
    discovery: DiscoveryConfig,
) -> dict[str, Any]:
    """The environment-wide part of the contract, as plain data."""
    return {
        "project": project,
        "stack": stack,
        "region": region,
        "environment": environment,
        "namespace": namespace,
        "cluster": cluster.model_dump(by_alias=True, mode="json"),
        "deployment": deployment.model_dump(by_alias=True, mode="json"),
        "logs": logs.model_dump(by_alias=True, mode="json"),
        "observability": observability.model_dump(by_alias=True, mode="json"),
        "discovery": discovery.model_dump(by_alias=True, mode="json"),
    }


def reference_issue(value: Any) -> ConfigIssue | None:
    if isinstance(value, str) and STACK_REFERENCE.match(value):
        return None
    return ConfigIssue(
        path="platform",
        message=f"{show(value)} is not a stack reference (allowed: <org>/<project>/<stack>, "
        "the platform stack of this environment)",
        fix=set_command("platform", "<org>/microservices/<stack>"),
    )


def parse_contract(
    reference: str, outputs: Mapping[str, Any], *, region: str | None
) -> tuple[PlatformContract | None, list[ConfigIssue]]:
    """The platform's outputs as a contract, or the problems that stop a service stack."""
    fix_platform = f"pulumi up --stack {reference} (the platform), then preview this stack again"
    version = outputs.get(VERSION_OUTPUT)
    document = outputs.get(CONTRACT_OUTPUT)
    if version is None or not isinstance(document, Mapping):
        return None, [
            ConfigIssue(
                path="platform",
                message=f"{show(reference)} exports no service-stack contract: it is not a "
                "platform stack, or not deployed yet (allowed: a stack with serviceStacks: "
                "true, deployed)",
                fix=fix_platform,
            )
        ]
    if version != CONTRACT_VERSION:
        return None, [
            ConfigIssue(
                path="platform",
                message=f"{show(reference)} exports contract version {show(version)}, and this "
                f"program reads version {CONTRACT_VERSION} (allowed: a platform deployed from a "
                f"program with contract version {CONTRACT_VERSION})",
                fix="deploy the platform and its service stacks from the same release of this "
                "program",
            )
        ]
    try:
        endpoints = {
            name: EndpointContract(
                security_group_id=e["securityGroupId"],
                log_group_name=e["logGroupName"],
                log_group_arn=e["logGroupArn"],
                discovery_service_arn=e.get("discoveryServiceArn"),
                target_group_arn=e.get("targetGroupArn"),
                target_group_arn_suffix=e.get("targetGroupArnSuffix"),
                alternate_target_group_arn=e.get("alternateTargetGroupArn"),
                alternate_target_group_arn_suffix=e.get("alternateTargetGroupArnSuffix"),
                production_listener_rule_arn=e.get("productionListenerRuleArn"),
            )
            for name, e in document["endpoints"].items()
        }
        contract = PlatformContract(
            reference=reference,
            project=document["project"],
            stack=document["stack"],
            region=document["region"],
            environment=document["environment"],
            namespace=document["namespace"],
            cluster=ClusterConfig.model_validate(document["cluster"]),
            deployment=DeploymentConfig.model_validate(document["deployment"]),
            logs=LogsConfig.model_validate(document["logs"]),
            cluster_arn=document["clusterArn"],
            cluster_name=document["clusterName"],
            private_subnet_ids=tuple(document["privateSubnetIds"]),
            load_balancer_arn_suffix=document["loadBalancerArnSuffix"],
            alerts_topic_arn=document["alertsTopicArn"],
            endpoints=endpoints,
            observability=ObservabilityConfig.model_validate(document.get("observability", {})),
            discovery=DiscoveryConfig.model_validate(document["discovery"]),
            namespace_arn=document["namespaceArn"],
            events=EventsContract(
                key_arn=document["events"].get("keyArn"),
                publishers={
                    name: PublisherContract(
                        topic_arn=p["topicArn"],
                        relay_log_group_name=p["relayLogGroupName"],
                        relay_log_group_arn=p["relayLogGroupArn"],
                        failure_queue_arn=p["relayFailureQueueArn"],
                    )
                    for name, p in document["events"]["publishers"].items()
                },
            ),
        )
    except (KeyError, TypeError, AttributeError, ValidationError) as error:
        return None, [
            ConfigIssue(
                path="platform",
                message=f"{show(reference)} exports a contract of version {CONTRACT_VERSION} "
                f"that lacks or garbles {error} (allowed: the contract this program exports)",
                fix=fix_platform,
            )
        ]
    issues = []
    if region and contract.region != region:
        issues.append(
            ConfigIssue(
                path="aws:region",
                message=f"{region} is not the platform's region {contract.region} (allowed: "
                f"{contract.region}: a service runs in its platform's VPC)",
                fix=f"pulumi config set aws:region {contract.region}",
            )
        )
    return contract, issues


def service_stack_key_issues(raw: Mapping[str, Any], reference: str) -> list[ConfigIssue]:
    """A service stack holds only `platform` and `services`: the rest is its platform's."""
    return [
        ConfigIssue(
            path=key,
            message=f"belongs to the platform stack {reference}: a service stack reads it from "
            f"the platform's outputs (allowed here: {', '.join(PLATFORM_KEYS_IN_SERVICE_STACK)})",
            fix=f"pulumi config rm {key}",
        )
        for key in raw
        if key not in PLATFORM_KEYS_IN_SERVICE_STACK
    ]


def missing_endpoint_issue(name: str, contract: PlatformContract) -> ConfigIssue:
    return ConfigIssue(
        path=f"services.{name}",
        message=f"has no endpoint in the platform {contract.reference} (allowed: "
        f"{', '.join(sorted(contract.endpoints)) or 'none'}); add the service to the catalog "
        "(services/) and run pulumi up on the platform first",
        fix=rm_command(f"services.{name}"),
    )


def missing_topic_issue(name: str, publisher: str, contract: PlatformContract) -> ConfigIssue:
    """A service stack's service publishes, or subscribes to a publisher, for which its
    platform has no topic: the platform was deployed from an older catalog."""
    what = "publishes" if name == publisher else f"subscribes to events of '{publisher}'"
    return ConfigIssue(
        path=f"services.{name}",
        message=f"{what}, and the platform {contract.reference} has no event topic for "
        f"'{publisher}' (allowed: {', '.join(sorted(contract.events.publishers)) or 'none'}); "
        "run pulumi up on the platform first, from the catalog with these events",
        fix=f"pulumi up --stack {contract.reference}",
    )
