"""Which input changes replace a resource, and which inputs hold something AWS holds only once.

pulumi-aws is built on terraform-provider-aws: an input whose Terraform attribute is
`ForceNew` (or, in the provider's newer framework resources, has a `RequiresReplace` plan
modifier) makes Pulumi replace the resource instead of updating it. Inputs are the camelCase
of the Terraform attributes; a block of at most one item becomes an object
(`dns_config.namespace_id` -> `dnsConfig.namespaceId`) and a repeated block takes a plural
name (`default_action` -> `defaultActions`).

Every rule cites the file of hashicorp/terraform-provider-aws it was read from, and, where
the pulumi-aws or awsx docs (the docstrings of the installed SDKs) say it too, those. The
identities cite the provider source or the AWS API reference that shows them unique.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TF = "terraform-provider-aws internal/service/"
COMPONENT_PACKAGES = ("microservices:", "awsx:ecr:Image")
"""Components: they hold no cloud resource of their own. An awsx ecr.Image builds and pushes
(pulumi-awsx awsx/ecr/image.ts); what changes in AWS is the pushed image, under a new tag."""


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Inputs that together name something AWS holds only once, when they are all set."""

    paths: tuple[str, ...]
    what: str
    source: str


@dataclass(frozen=True, kw_only=True)
class ReplacementRule:
    type: str
    replace_on: tuple[str, ...] = ()
    """Input paths whose change replaces the resource."""
    replace_on_any_except: tuple[str, ...] | None = None
    """When set, a change to any input but these replaces the resource."""
    replace_on_kind_change: tuple[str, ...] = ()
    """Mutually exclusive inputs: switching from one to another replaces the resource."""
    subnet_layout: tuple[str, ...] = ()
    """Inputs of an awsx VPC that lay out its subnets (a moved subnet is a new subnet)."""
    identities: tuple[Identity, ...] = ()
    source: str
    note: str = ""


def _rule(type_: str, replace_on: Iterable[str] = (), **kwargs: Any) -> ReplacementRule:
    return ReplacementRule(type=type_, replace_on=tuple(replace_on), **kwargs)


_ELBV2_DUPLICATE_LISTENER = (
    "AWS ELBv2 API error DuplicateListener: 'A listener with the specified port already "
    "exists.' (docs.aws.amazon.com/AWSJavaSDK/latest/javadoc/com/amazonaws/services/"
    "elasticloadbalancingv2/model/DuplicateListenerException.html)"
)
_ELBV2_PRIORITY_IN_USE = (
    "AWS ELBv2 API error PriorityInUse: 'The specified priority is in use.' "
    "(docs.aws.amazon.com/goto/WebAPI/elasticloadbalancingv2-2015-12-01/SetRulePriorities)"
)
_S3_BUCKET_CONFIG = (
    "one per bucket: created and updated with the bucket's Put<configuration> call and "
    "removed by deleting either resource; the resource's id is the bucket"
)


def _s3_config(type_: str, file: str, *, expected_owner: bool) -> ReplacementRule:
    paths = ("bucket", "expectedBucketOwner") if expected_owner else ("bucket",)
    attributes = "bucket, expected_bucket_owner" if expected_owner else "bucket"
    return _rule(
        type_,
        paths,
        identities=(Identity(paths=("bucket",), what=_S3_BUCKET_CONFIG, source=TF + file),),
        source=f"{TF}{file}: {attributes} ForceNew",
    )


_RULES: tuple[ReplacementRule, ...] = (
    _rule(
        "aws:appautoscaling/policy:Policy",
        ("name", "resourceId", "scalableDimension", "serviceNamespace"),
        identities=(
            Identity(
                paths=("serviceNamespace", "resourceId", "scalableDimension", "name"),
                what="scaling policy name on its scalable target (PutScalingPolicy creates "
                "or updates it; delete removes it by these four)",
                source=TF + "appautoscaling/policy.go",
            ),
        ),
        source=TF + "appautoscaling/policy.go: name, resource_id, scalable_dimension, "
        "service_namespace ForceNew",
    ),
    _rule(
        "aws:appautoscaling/target:Target",
        ("resourceId", "scalableDimension", "serviceNamespace"),
        identities=(
            Identity(
                paths=("serviceNamespace", "resourceId", "scalableDimension"),
                what="scalable target (RegisterScalableTarget creates or updates it; delete "
                "deregisters it by these three)",
                source=TF + "appautoscaling/target.go",
            ),
        ),
        source=TF + "appautoscaling/target.go: resource_id, scalable_dimension, "
        "service_namespace ForceNew",
    ),
    _rule(
        "aws:cloudwatch/logGroup:LogGroup",
        ("name", "namePrefix", "logGroupClass"),
        identities=(
            Identity(
                paths=("name",),
                what="log group name (the resource's id)",
                source=TF + "logs/group.go (d.SetId(name))",
            ),
        ),
        source=TF + "logs/group.go: name, name_prefix, log_group_class ForceNew",
    ),
    _rule(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        ("vpcId",),
        source=TF + "ec2/vpc_default_security_group.go: vpc_id ForceNew",
        note="adopts the VPC's existing default group; a new VPC has a new one",
    ),
    _rule(
        "aws:ec2/flowLog:FlowLog",
        (
            "deliverCrossAccountRole",
            "destinationOptions",
            "eniId",
            "iamRoleArn",
            "logDestination",
            "logDestinationType",
            "logFormat",
            "maxAggregationInterval",
            "regionalNatGatewayId",
            "subnetId",
            "trafficType",
            "transitGatewayAttachmentId",
            "transitGatewayId",
            "vpcId",
        ),
        source=TF + "ec2/vpc_flow_log.go: every argument but tags ForceNew (update: tags only)",
    ),
    _rule(
        "aws:ec2/securityGroup:SecurityGroup",
        ("name", "namePrefix", "description", "vpcId"),
        source=TF + "ec2/vpc_security_group.go: name, name_prefix, description, vpc_id "
        "ForceNew; pulumi-aws docs (ec2.SecurityGroup, 'Recreating a Security Group')",
    ),
    _rule(
        "aws:ecs/cluster:Cluster",
        ("name",),
        identities=(
            Identity(
                paths=("name",),
                what="cluster name (the cluster's ARN is built from it)",
                source=TF + "ecs/cluster.go (import: arn ...:cluster/<name>)",
            ),
        ),
        source=TF + "ecs/cluster.go: name ForceNew",
    ),
    _rule(
        "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
        ("clusterName",),
        identities=(
            Identity(
                paths=("clusterName",),
                what="the cluster's capacity providers (one set per cluster, the resource's "
                "id; delete empties them)",
                source=TF + "ecs/cluster_capacity_providers.go",
            ),
        ),
        source=TF + "ecs/cluster_capacity_providers.go: cluster_name ForceNew",
    ),
    _rule(
        "aws:ecs/service:Service",
        ("name", "cluster", "iamRole", "launchType", "schedulingStrategy"),
        identities=(
            Identity(
                paths=("cluster", "name"),
                what="service name in its cluster",
                source="AWS ECS API CreateService, serviceName: 'Service names must be "
                "unique within a cluster'",
            ),
        ),
        source=TF + "ecs/service.go: name, cluster, iam_role, launch_type, "
        "scheduling_strategy ForceNew",
        note="capacity_provider_strategy changes in place when force_new_deployment is true "
        "(its CustomizeDiff refuses them otherwise)",
    ),
    _rule(
        "aws:ecs/taskDefinition:TaskDefinition",
        replace_on_any_except=("tags", "skipDestroy", "trackLatest"),
        source=TF + "ecs/task_definition.go: every argument but tags, skip_destroy and "
        "track_latest ForceNew (each change registers a new revision)",
    ),
    _rule(
        "aws:iam/role:Role",
        ("name", "namePrefix", "path"),
        identities=(
            Identity(
                paths=("name",),
                what="role name (the resource's id)",
                source=TF + "iam/role.go (d.SetId(roleName))",
            ),
        ),
        source=TF + "iam/role.go: name, name_prefix, path ForceNew",
    ),
    _rule(
        "aws:iam/rolePolicy:RolePolicy",
        ("name", "namePrefix", "role"),
        identities=(
            Identity(
                paths=("role", "name"),
                what="inline policy name on its role (PutRolePolicy creates or overwrites it)",
                source=TF + "iam/role_policy.go",
            ),
        ),
        source=TF + "iam/role_policy.go: name, name_prefix, role ForceNew",
    ),
    _rule(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        ("role", "policyArn"),
        identities=(
            Identity(
                paths=("role", "policyArn"),
                what="managed policy attached to its role (AttachRolePolicy; detaching the "
                "old attachment after creating the new one would detach both)",
                source=TF + "iam/role_policy_attachment.go",
            ),
        ),
        source=TF + "iam/role_policy_attachment.go: role, policy_arn ForceNew",
    ),
    _rule(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        ("name",),
        identities=(
            Identity(
                paths=("name",),
                what="alarm name (the resource's id; Create refuses one that already exists)",
                source=TF + "cloudwatch/metric_alarm.go (d.SetId(name), 'already exists')",
            ),
        ),
        source=TF + "cloudwatch/metric_alarm.go: alarm_name ForceNew (Pulumi's `name`)",
    ),
    _rule(
        "aws:cloudwatch/dashboard:Dashboard",
        ("dashboardName",),
        identities=(
            Identity(
                paths=("dashboardName",),
                what="dashboard name (PutDashboard creates or overwrites it)",
                source=TF + "cloudwatch/dashboard.go (d.SetId(name))",
            ),
        ),
        source=TF + "cloudwatch/dashboard.go: dashboard_name ForceNew",
    ),
    _rule(
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        ("policyName", "resourceArn"),
        identities=(
            Identity(
                paths=("policyName",),
                what="account-level Logs resource policy name (PutResourcePolicy creates or "
                "overwrites it)",
                source=TF + "logs/resource_policy.go (d.SetId(name))",
            ),
        ),
        source=TF + "logs/resource_policy.go: policy_name, resource_arn ForceNew",
    ),
    _rule(
        "aws:xray/traceSegmentDestination:TraceSegmentDestination",
        source=TF + "xray/trace_segment_destination.go: no RequiresReplace (a singleton of the "
        "account and region, updated in place; delete is a no-op)",
    ),
    _rule(
        "aws:sns/topic:Topic",
        ("name", "namePrefix", "fifoTopic"),
        source=TF + "sns/topic.go: name, name_prefix, fifo_topic ForceNew",
    ),
    _rule(
        "aws:sns/topicSubscription:TopicSubscription",
        ("endpoint", "protocol", "topic"),
        source=TF + "sns/topic_subscription.go: endpoint, protocol, topic_arn ForceNew "
        "(Pulumi's `topic`)",
        note="an email subscription pending confirmation cannot be deleted; Pulumi forgets it",
    ),
    _rule(
        "aws:lambda/function:Function",
        ("name", "packageType"),
        identities=(
            Identity(
                paths=("name",),
                what="function name (the resource's id; CreateFunction refuses one that "
                "already exists: ResourceConflictException)",
                source=TF + "lambda/function.go (d.SetId(functionName))",
            ),
        ),
        source=TF + "lambda/function.go: function_name, package_type ForceNew (Pulumi's "
        "`name`); code, role, runtime, handler, environment, logging_config update in place",
    ),
    _rule(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        (
            "eventSourceArn",
            "startingPosition",
            "startingPositionTimestamp",
            "queues",
            "topics",
            "selfManagedEventSource",
            "amazonManagedKafkaEventSourceConfig",
            "selfManagedKafkaEventSourceConfig",
        ),
        source=TF + "lambda/event_source_mapping.go: event_source_arn, starting_position, "
        "starting_position_timestamp, queues, topics, self_managed_event_source, "
        "amazon_managed_kafka_event_source_config, self_managed_kafka_event_source_config "
        "ForceNew; function_name, batching, retries, destination and filters update in place",
        note="a new mapping on a stream starts at its starting position (TRIM_HORIZON: the "
        "records of the last 24 hours again; the relay's deduplication ids make SNS drop "
        "those published in the last 5 minutes, the subscribers' inboxes the rest)",
    ),
    _rule(
        "aws:sqs/queue:Queue",
        ("name", "namePrefix", "fifoQueue"),
        identities=(
            Identity(
                paths=("name",),
                what="queue name (the URL is the resource's id; CreateQueue with a name in use "
                "and other attributes fails: QueueAlreadyExists)",
                source=TF + "sqs/queue.go (d.SetId(queueURL))",
            ),
        ),
        source=TF + "sqs/queue.go: name, name_prefix, fifo_queue ForceNew",
        note="a replaced queue is a new, empty queue: messages waiting in the old one are lost",
    ),
    _rule(
        "aws:sqs/queuePolicy:QueuePolicy",
        ("queueUrl",),
        identities=(
            Identity(
                paths=("queueUrl",),
                what="the policy of its queue (SetQueueAttributes Policy overwrites it; "
                "deleting the old one after creating the new one removes both)",
                source=TF + "sqs/queue_policy.go (d.SetId(queueURL))",
            ),
        ),
        source=TF + "sqs/queue_policy.go: queue_url ForceNew",
    ),
    _rule(
        "aws:ecr/repository:Repository",
        ("name", "encryptionConfigurations"),
        source=TF + "ecr/repository.go: name, encryption_configuration (encryption_type, "
        "kms_key) ForceNew",
    ),
    _rule(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        ("policy", "repository"),
        identities=(
            Identity(
                paths=("repository",),
                what="lifecycle policy of its repository (PutLifecyclePolicy overwrites it; "
                "deleting the old one after creating the new one deletes both)",
                source=TF + "ecr/lifecycle_policy.go (d.SetId(repository name))",
            ),
        ),
        source=TF + "ecr/lifecycle_policy.go: policy, repository ForceNew",
    ),
    _rule(
        "aws:dynamodb/table:Table",
        ("name", "hashKey", "rangeKey", "localSecondaryIndexes"),
        source=TF + "dynamodb/table.go: name, hash_key, range_key, local_secondary_index ForceNew",
        note="a replaced table is a new, empty table",
    ),
    _rule(
        "aws:kms/key:Key",
        ("customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"),
        source=TF + "kms/key.go: custom_key_store_id, customer_master_key_spec, key_usage, "
        "multi_region, xks_key_id ForceNew",
    ),
    _rule(
        "aws:lb/listener:Listener",
        ("loadBalancerArn",),
        identities=(
            Identity(
                paths=("loadBalancerArn", "port"),
                what="listener port on its load balancer",
                source=_ELBV2_DUPLICATE_LISTENER,
            ),
        ),
        source=TF + "elbv2/listener.go: load_balancer_arn ForceNew",
    ),
    _rule(
        "aws:lb/listenerRule:ListenerRule",
        ("listenerArn",),
        identities=(
            Identity(
                paths=("listenerArn", "priority"),
                what="rule priority on its listener",
                source=_ELBV2_PRIORITY_IN_USE,
            ),
        ),
        source=TF + "elbv2/listener_rule.go: listener_arn ForceNew (priority: ForceNew false)",
    ),
    _rule(
        "aws:lb/loadBalancer:LoadBalancer",
        (
            "name",
            "namePrefix",
            "internal",
            "loadBalancerType",
            "customerOwnedIpv4Pool",
            "subnetMappings",
        ),
        source=TF + "elbv2/load_balancer.go: name, name_prefix, internal, load_balancer_type, "
        "customer_owned_ipv4_pool, subnet_mapping ForceNew",
        note="subnets are ForceNew only for a network load balancer (customizeDiffNLBSubnets)",
    ),
    _rule(
        "aws:lb/targetGroup:TargetGroup",
        ("name", "namePrefix", "port", "protocol", "targetType", "vpcId"),
        source=TF + "elbv2/target_group.go: name, name_prefix, port, protocol, target_type, "
        "vpc_id ForceNew",
    ),
    _rule(
        "aws:s3/bucket:Bucket",
        ("bucket", "bucketPrefix", "objectLockEnabled"),
        source=TF + "s3/bucket.go: bucket, bucket_prefix, object_lock_enabled ForceNew",
    ),
    _s3_config(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "s3/bucket_lifecycle_configuration.go",
        expected_owner=True,
    ),
    _s3_config(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "s3/bucket_ownership_controls.go",
        expected_owner=False,
    ),
    _rule(
        "aws:s3/bucketPolicy:BucketPolicy",
        ("bucket",),
        identities=(
            Identity(
                paths=("bucket",),
                what="the bucket's policy: one per bucket",
                source="pulumi-aws docs (s3.BucketPolicy: 'Only one s3.BucketPolicy resource "
                "should be defined per S3 bucket ... PutBucketPolicy ... replaces the entire "
                "existing policy')",
            ),
        ),
        source=TF + "s3/bucket_policy.go: bucket ForceNew",
    ),
    _s3_config(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "s3/bucket_public_access_block.go",
        expected_owner=False,
    ),
    _s3_config(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "s3/bucket_server_side_encryption_configuration.go",
        expected_owner=True,
    ),
    _s3_config(
        "aws:s3/bucketVersioning:BucketVersioning",
        "s3/bucket_versioning.go",
        expected_owner=True,
    ),
    _rule(
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
        ("name", "vpc"),
        source=TF + "servicediscovery/private_dns_namespace.go: name, vpc ForceNew",
    ),
    _rule(
        "aws:servicediscovery/service:Service",
        (
            "name",
            "namespaceId",
            "type",
            "dnsConfig.namespaceId",
            "dnsConfig.routingPolicy",
            "dnsConfig.dnsRecords.type",
            "healthCheckConfig.type",
            "healthCheckCustomConfig",
        ),
        identities=(
            Identity(
                paths=("dnsConfig.namespaceId", "name"),
                what="service name in its namespace",
                source=TF + "servicediscovery/service.go (findServiceByNameAndNamespaceID)",
            ),
        ),
        source=TF + "servicediscovery/service.go: name, namespace_id, type, "
        "dns_config.namespace_id, dns_config.routing_policy, dns_config.dns_records.type, "
        "health_check_config.type, health_check_custom_config ForceNew",
    ),
    _rule(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        ("securityGroupId",),
        replace_on_kind_change=(
            "cidrIpv4",
            "cidrIpv6",
            "prefixListId",
            "referencedSecurityGroupId",
        ),
        source=TF + "ec2/vpc_security_group_egress_rule.go (the rule schema of "
        "vpc_security_group_ingress_rule.go): security_group_id RequiresReplace; ModifyPlan "
        "replaces the rule when its source type changes",
    ),
    _rule(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ("securityGroupId",),
        replace_on_kind_change=(
            "cidrIpv4",
            "cidrIpv6",
            "prefixListId",
            "referencedSecurityGroupId",
        ),
        source=TF + "ec2/vpc_security_group_ingress_rule.go: security_group_id "
        "RequiresReplace; ModifyPlan replaces the rule when its source type changes",
    ),
    _rule(
        "aws:wafv2/webAcl:WebAcl",
        ("name", "namePrefix", "scope"),
        source=TF + "wafv2/web_acl.go: name, name_prefix, scope ForceNew",
    ),
    _rule(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        ("resourceArn", "webAclArn"),
        identities=(
            Identity(
                paths=("resourceArn",),
                what="the web ACL of a resource (delete disassociates the resource)",
                source=TF + "wafv2/web_acl_association.go (DisassociateWebACL by resource ARN)",
            ),
        ),
        source=TF + "wafv2/web_acl_association.go: resource_arn, web_acl_arn ForceNew",
    ),
    _rule(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        ("resourceArn", "logDestinationConfigs"),
        identities=(
            Identity(
                paths=("resourceArn",),
                what="the web ACL's logging configuration (PutLoggingConfiguration; the "
                "resource's id is the web ACL's ARN)",
                source=TF + "wafv2/web_acl_logging_configuration.go",
            ),
        ),
        source=TF + "wafv2/web_acl_logging_configuration.go: resource_arn, "
        "log_destination_configs ForceNew",
    ),
    _rule(
        "aws:wafv2/webAclRule:WebAclRule",
        ("name", "webAclArn"),
        identities=(
            Identity(
                paths=("webAclArn", "name"),
                what="rule name in its web ACL (a create adopts an existing rule of that name)",
                source=TF + "wafv2/web_acl_rule.go",
            ),
            Identity(
                paths=("webAclArn", "priority"),
                what="rule priority in its web ACL (a create fails on a priority in use)",
                source=TF + "wafv2/web_acl_rule.go",
            ),
        ),
        source=TF + "wafv2/web_acl_rule.go: name, web_acl_arn RequiresReplace",
    ),
    _rule(
        "awsx:ec2:Vpc",
        ("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
        subnet_layout=(
            "subnetSpecs",
            "availabilityZoneCidrMask",
            "availabilityZoneNames",
            "numberOfAvailabilityZones",
            "subnetStrategy",
        ),
        source=TF + "ec2/vpc_.go: cidr_block, ipv4_ipam_pool_id, ipv4_netmask_length ForceNew "
        "(awsx docs: cidrBlock is the VPC's); " + TF + "ec2/vpc_subnet.go: cidr_block, "
        "availability_zone ForceNew (awsx docs: subnetSpecs, availabilityZoneCidrMask and "
        "the zones lay out the subnets)",
        note="a changed cidrBlock replaces the VPC and everything bound to it; a changed "
        "subnet layout replaces the subnets whose block or zone moves",
    ),
)

RULES: Mapping[str, ReplacementRule] = MappingProxyType({rule.type: rule for rule in _RULES})

SUBNET_OVERLAP = (
    "AWS EC2 API CreateSubnet: 'A subnet CIDR block must not overlap the CIDR block of an "
    "existing subnet in the VPC. After you create a subnet, you can't change its CIDR block.'"
)


def is_component(type_: str) -> bool:
    return type_.startswith(COMPONENT_PACKAGES)


def rule_for(type_: str) -> ReplacementRule | None:
    return RULES.get(type_)


# --- matching changed property paths --------------------------------------------------------

_INDEX = re.compile(r"\[\d+\]")


def schema_path(path: str) -> str:
    """A changed property path without list indexes: `dnsConfig.dnsRecords[0].type` ->
    `dnsConfig.dnsRecords.type`, which is how the schema names it."""
    return _INDEX.sub("", path)


def under(path: str, prefix: str) -> bool:
    """Whether `path` is `prefix` or lies inside it (both with or without list indexes)."""
    path, prefix = schema_path(path), schema_path(prefix)
    return path == prefix or path.startswith(prefix + ".")


def forcing_paths(
    rule: ReplacementRule,
    changed: Iterable[str],
    *,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    ignored: Iterable[str] = (),
) -> tuple[str, ...]:
    """The changed input paths that make the provider replace the resource.

    Inputs under `ignoreChanges` keep their old value at deploy, so they force nothing.
    """
    ignored = tuple(ignored)
    considered = [p for p in changed if not any(under(p, i) for i in ignored)]
    found: list[str] = []
    for path in considered:
        top = schema_path(path).split(".", 1)[0]
        if rule.replace_on_any_except is not None:
            if top not in rule.replace_on_any_except:
                found.append(path)
        elif any(under(path, forcing) for forcing in rule.replace_on):
            found.append(path)
    if rule.replace_on_kind_change and _kind(old, rule) != _kind(new, rule):
        found += [p for p in considered if p in rule.replace_on_kind_change and p not in found]
    return tuple(found)


def _kind(inputs: Mapping[str, Any], rule: ReplacementRule) -> tuple[str, ...]:
    return tuple(key for key in rule.replace_on_kind_change if inputs.get(key) is not None)


def subnet_layout_paths(rule: ReplacementRule, changed: Iterable[str]) -> tuple[str, ...]:
    return tuple(p for p in changed if any(under(p, s) for s in rule.subnet_layout))


def lookup(inputs: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted input path, None when absent."""
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# --- subnets of an awsx VPC ------------------------------------------------------------------

_SUBNET_OUTPUTS = {"Public": "publicSubnetIds", "Private": "privateSubnetIds"}


@dataclass(frozen=True, kw_only=True)
class SubnetPlan:
    """What a change of an awsx VPC's subnet layout does to its subnets."""

    replaced_outputs: frozenset[str] | None = None
    """Outputs naming replaced subnets (`privateSubnetIds[1]`); None: every subnet output."""
    overlaps: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(new block, old block) pairs: a new subnet created while an old one holds its range."""


def _blocks_by_type(inputs: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """Each subnet type's explicit blocks in zone order; None when awsx computes them."""
    specs = inputs.get("subnetSpecs")
    if not isinstance(specs, list):
        return None
    blocks: dict[str, list[str]] = {}
    for spec in specs:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("cidrBlocks"), list):
            return None
        blocks[str(spec.get("type"))] = [str(b) for b in spec["cidrBlocks"]]
    return blocks


def subnet_plan(old: Mapping[str, Any], new: Mapping[str, Any]) -> SubnetPlan:
    """Which subnets a layout change replaces, and whether a new one overlaps an old one.

    Pulumi creates a replacement before it deletes the original, so a new subnet whose block
    overlaps a block still in use is refused (see SUBNET_OVERLAP). Only explicit blocks can be
    compared; when awsx computes them, every subnet may move.
    """
    before, after = _blocks_by_type(old), _blocks_by_type(new)
    zones_moved = old.get("availabilityZoneNames") != new.get("availabilityZoneNames")
    if before is None or after is None or zones_moved:
        return SubnetPlan(replaced_outputs=None)
    replaced: set[str] = set()
    created: list[str] = []
    for type_, blocks in after.items():
        output = _SUBNET_OUTPUTS.get(type_, f"{type_.lower()}SubnetIds")
        previous = before.get(type_, [])
        for index, block in enumerate(blocks):
            if index < len(previous) and previous[index] != block:
                replaced.add(f"{output}[{index}]")
            if index >= len(previous) or previous[index] != block:
                created.append(block)
    kept = {b for blocks in after.values() for b in blocks}
    old_blocks = [b for blocks in before.values() for b in blocks if b not in kept]
    overlaps = tuple(
        (new_block, old_block)
        for new_block in created
        for old_block in old_blocks
        if _overlap(new_block, old_block)
    )
    return SubnetPlan(replaced_outputs=frozenset(replaced), overlaps=overlaps)


def _overlap(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False
