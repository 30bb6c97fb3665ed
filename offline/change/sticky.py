"""Inputs that keep their deployed value when the program stops sending them.

pulumi-aws runs terraform-provider-aws. An argument that is Optional and Computed takes its
value from AWS when the config leaves it out, so removing it from the program changes nothing
in AWS: the provider sends nothing, and the old value stays. A few Optional blocks behave the
same way through `verify.SuppressMissingOptionalConfigurationBlock`, which suppresses the diff
of a block that went missing (internal/verify/diff.go). A program that means "back to the
default" must therefore send the default.

The table lists, for each resource type the program registers, those inputs (camelCase, as
the preview records them; a repeated block by its plural name, nested fields under it). A
nested input is only considered where its parent is sent: a parent that is not sticky is
removed as a whole. `used_when` names the value of another input under which the kept value
matters; elsewhere AWS keeps it, and nothing reads it.

Sources: hashicorp/terraform-provider-aws `internal/service/ecs/service.go` at 8f59f682 (the
version with `sigint_rollback`, as pulumi-aws 7.51 carries it), and for the other types the
provider's schema as `terraform providers schema -json` prints it for v6.47.0
(lonegunmanb/terraform-aws-schema at 6812d622, `generated/resource/<type>.go`: attributes
with both `optional` and `computed`). That schema cannot mark a nested block as computed;
the blocks listed as such were read in the provider's source (named per type). `id`,
`region`, `tagsAll` and `name`/`namePrefix` pairs the program never sets are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from offline.change.replacements import lookup, schema_path, under

ECS_SERVICE_SOURCE = "terraform-provider-aws internal/service/ecs/service.go @ 8f59f682"
SCHEMA_SOURCE = (
    "terraform-provider-aws v6.47.0 schema (lonegunmanb/terraform-aws-schema @ 6812d622)"
)
LAMBDA_FUNCTION_SOURCE = (
    "terraform-provider-aws internal/service/lambda/function.go (ephemeral_storage, "
    "logging_config, tracing_config: Optional and Computed blocks)"
)
LAMBDA_MAPPING_SOURCE = (
    "terraform-provider-aws internal/service/lambda/event_source_mapping.go (destination_config)"
)
SHIFTING = ("BLUE_GREEN", "LINEAR", "CANARY")


@dataclass(frozen=True, kw_only=True)
class StickyInput:
    path: str
    source: str
    why: str = "Optional and Computed"
    used_when: tuple[str, tuple[Any, ...]] | None = None
    """(input path, values): the kept value matters only where that input has one of them."""

    def used(self, inputs: Mapping[str, Any]) -> bool:
        if self.used_when is None:
            return True
        path, values = self.used_when
        return lookup(inputs, path) in values


def _ecs(path: str, **kwargs: Any) -> StickyInput:
    return StickyInput(path=path, source=ECS_SERVICE_SOURCE, **kwargs)


def _schema(*paths: str) -> tuple[StickyInput, ...]:
    return tuple(StickyInput(path=p, source=SCHEMA_SOURCE) for p in paths)


_MISSING_BLOCK = (
    "an Optional block whose removal the provider suppresses "
    "(verify.SuppressMissingOptionalConfigurationBlock)"
)

STICKY: Mapping[str, tuple[StickyInput, ...]] = {
    "aws:ecs/service:Service": (
        _ecs("availabilityZoneRebalancing"),
        _ecs("platformVersion"),
        _ecs("triggers"),
        _ecs("deploymentConfiguration"),
        _ecs("deploymentConfiguration.strategy"),
        _ecs(
            "deploymentConfiguration.bakeTimeInMinutes",
            used_when=("deploymentConfiguration.strategy", SHIFTING),
        ),
        _ecs(
            "deploymentConfiguration.canaryConfiguration",
            used_when=("deploymentConfiguration.strategy", ("CANARY",)),
        ),
        _ecs(
            "deploymentConfiguration.linearConfiguration",
            used_when=("deploymentConfiguration.strategy", ("LINEAR",)),
        ),
        _ecs("serviceConnectConfiguration.namespace"),
        _ecs("serviceConnectConfiguration.logConfiguration.options"),
        _ecs("serviceConnectConfiguration.services.discoveryName"),
        _ecs("serviceConnectConfiguration.services.clientAlias.dnsName"),
        _ecs("alarms", why=_MISSING_BLOCK),
        _ecs("deploymentController", why=_MISSING_BLOCK),
        _ecs("deploymentCircuitBreaker", why=_MISSING_BLOCK),
    ),
    "aws:appautoscaling/target:Target": _schema("roleArn"),
    "aws:cloudwatch/logGroup:LogGroup": _schema("deletionProtectionEnabled", "logGroupClass"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _schema("evaluateLowSampleCountPercentiles"),
    "aws:dynamodb/table:Table": _schema(
        "readCapacity",
        "writeCapacity",
        "streamViewType",
        "serverSideEncryption.kmsKeyArn",
        "pointInTimeRecovery.recoveryPeriodInDays",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _schema("egress", "ingress"),
    "aws:ec2/flowLog:FlowLog": _schema("logDestination", "logFormat"),
    "aws:ec2/securityGroup:SecurityGroup": _schema("egress", "ingress"),
    "aws:ecr/repository:Repository": _schema("encryptionConfigurations.kmsKey"),
    "aws:ecs/taskDefinition:TaskDefinition": _schema("enableFaultInjection", "networkMode"),
    "aws:iam/role:Role": _schema("managedPolicyArns"),
    "aws:kms/key:Key": _schema("description", "multiRegion", "policy", "rotationPeriodInDays"),
    "aws:lb/listener:Listener": _schema("protocol", "sslPolicy", "tcpIdleTimeoutSeconds"),
    "aws:lb/listenerRule:ListenerRule": _schema("priority"),
    "aws:lb/loadBalancer:LoadBalancer": (
        *_schema("internal", "ipAddressType", "securityGroups", "subnets"),
        StickyInput(
            path="subnetMappings",
            source="terraform-provider-aws internal/service/elbv2/load_balancer.go @ af55dfb9",
        ),
    ),
    "aws:lb/targetGroup:TargetGroup": (
        *_schema(
            "connectionTermination",
            "ipAddressType",
            "loadBalancingAlgorithmType",
            "loadBalancingAnomalyMitigation",
            "loadBalancingCrossZoneEnabled",
            "preserveClientIp",
            "protocolVersion",
            "healthCheck.matcher",
            "healthCheck.path",
            "healthCheck.timeout",
        ),
        *(
            StickyInput(
                path=block,
                source="terraform-provider-aws internal/service/elbv2/target_group.go @ acde5882",
            )
            for block in ("healthCheck", "stickiness")
        ),
    ),
    "aws:s3/bucket:Bucket": _schema("accelerationStatus", "acl", "objectLockEnabled", "policy"),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ): _schema("rules.bucketKeyEnabled", "rules.applyServerSideEncryptionByDefault.kmsMasterKeyId"),
    "aws:servicediscovery/service:Service": _schema("namespaceId", "type"),
    "aws:sns/topic:Topic": _schema(
        "fifoThroughputScope", "name", "policy", "signatureVersion", "tracingConfig"
    ),
    "aws:sns/topicSubscription:TopicSubscription": _schema("filterPolicyScope"),
    "aws:lambda/function:Function": (
        *_schema("architectures", "sourceCodeHash", "loggingConfig.logGroup"),
        *(
            StickyInput(path=block, source=LAMBDA_FUNCTION_SOURCE)
            for block in ("ephemeralStorage", "loggingConfig", "tracingConfig")
        ),
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": (
        *_schema("maximumRecordAgeInSeconds", "maximumRetryAttempts", "parallelizationFactor"),
        StickyInput(
            path="destinationConfig",
            source=LAMBDA_MAPPING_SOURCE,
            why="verify.SuppressMissingOptionalConfigurationBlock",
        ),
    ),
    "aws:sqs/queue:Queue": _schema(
        "deduplicationScope",
        "fifoThroughputLimit",
        "kmsDataKeyReusePeriodSeconds",
        "name",
        "policy",
        "redriveAllowPolicy",
        "redrivePolicy",
        "sqsManagedSseEnabled",
    ),
    # Its only inputs, queue_url and policy, are Required.
    "aws:sqs/queuePolicy:QueuePolicy": (),
}


def sticky_inputs(type_: str) -> tuple[StickyInput, ...]:
    return STICKY.get(type_, ())


def _parent(path: str) -> str | None:
    return path.rsplit(".", 1)[0] if "." in path else None


def is_sent(inputs: Mapping[str, Any], path: str) -> bool:
    """Whether the program sends the input at `path` (a schema path, lists walked through:
    any item that has it)."""

    def walk(value: Any, parts: list[str]) -> bool:
        if not parts:
            return value is not None
        if isinstance(value, list):
            return any(walk(item, parts) for item in value)
        if not isinstance(value, Mapping):
            return False
        return walk(value.get(parts[0]), parts[1:])

    return walk(inputs, path.split("."))


def kept_when_left_out(type_: str, path: str, new_inputs: Mapping[str, Any]) -> StickyInput | None:
    """The entry that makes a removed input keep its deployed value in AWS, if any: the input
    or a block it lies in is sticky, and that block's parent is still sent."""
    # The innermost entry speaks for the path: it says when the kept value is read.
    for entry in sorted(sticky_inputs(type_), key=lambda e: -len(e.path)):
        if not under(path, entry.path):
            continue
        parent = _parent(entry.path)
        if parent is None or is_sent(new_inputs, schema_path(parent)):
            return entry
    return None
