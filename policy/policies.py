"""The security baseline as CrossGuard policies, one per control.

Each control names the AWS Security Hub / Checkov id it implements, the environments it is
mandatory in, and what it does with a value that is unknown during `pulumi preview` (an ARN
or a document built from one): `deny` reports it, because the control cannot be shown to
hold; `allow` lets it pass at preview, because the value is known when `pulumi up` runs the
same policy before creating the resource.

This module depends on pulumi-policy alone, so the pack runs in its own virtualenv.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

Scope = Literal["all", "production"]
OnUnknown = Literal["allow", "deny"]

ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CLUSTER = "aws:ecs/cluster:Cluster"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
IAM_POLICY = "aws:iam/policy:Policy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
KMS_KEY = "aws:kms/key:Key"
VPC = "aws:ec2/vpc:Vpc"
AWSX_VPC = "awsx:ec2:Vpc"

# Security Hub ECS.8 looks for these variable names; the pattern adds the usual suspects.
SECURITY_HUB_SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "ECS_ENGINE_AUTH_DATA",
)
SECRET_LIKE_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I
)
ROOT_USERS = ("root", "0", "0:0")
TLS13_POLICY = re.compile(r"^ELBSecurityPolicy-TLS13-")


@dataclass(frozen=True, kw_only=True)
class Control:
    name: str
    ids: str
    """Security Hub / Checkov ids, or `project` for a rule of this project."""
    description: str
    how: str
    """How this program meets the control (for the README's table)."""
    scope: Scope
    on_unknown: OnUnknown
    types: tuple[str, ...] = ()
    """Resource types a resource control looks at; empty for a stack control."""
    check: Callable[[Mapping[str, Any]], Iterable[str]] | None = None
    """Resource control: the violations of one resource's inputs."""
    check_stack: Callable[[Sequence[PolicyResource]], Iterable[tuple[str, str | None]]] | None = (
        None
    )
    """Stack control: (violation, URN or None) over all resources."""

    @property
    def full_description(self) -> str:
        return f"[{self.ids}] {self.description}"


# --- helpers ---------------------------------------------------------------------------------


def _containers(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    definitions = props["containerDefinitions"]
    parsed = json.loads(definitions) if isinstance(definitions, str) else definitions
    return list(parsed)


def _statements(document: Any) -> list[Mapping[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _referenced_by(resources: Sequence[PolicyResource], resource_type: str, prop: str) -> set[str]:
    """URNs of the resources that `prop` of any `resource_type` resource takes its value from."""
    return {
        dependency.urn
        for r in resources
        if r.resource_type == resource_type
        for dependency in r.property_dependencies.get(prop, [])
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


# --- ECS -------------------------------------------------------------------------------------


def _no_public_ip(props: Mapping[str, Any]) -> Iterable[str]:
    network = props.get("networkConfiguration") or {}
    if network.get("assignPublicIp") is True:
        yield "tasks get a public IP: set networkConfiguration.assignPublicIp to false"


def _release_safeguards(props: Mapping[str, Any]) -> Iterable[str]:
    breaker = props.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        yield (
            "the deployment circuit breaker is off or does not roll back: set "
            "deploymentCircuitBreaker to enable and rollback"
        )
    alarms = props.get("alarms") or {}
    if not (alarms.get("enable") is True and alarms.get("rollback") is True):
        yield (
            "no deployment alarms with rollback: name the release alarms in the service's "
            "alarms block with enable and rollback"
        )
    elif not alarms.get("alarmNames"):
        yield "the alarms block names no alarm: list the alarms that mean a bad release"


def _not_privileged(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if container.get("privileged") is True:
            yield f"container '{container.get('name')}' is privileged"


def _no_host_namespaces(props: Mapping[str, Any]) -> Iterable[str]:
    for key in ("pidMode", "ipcMode"):
        if props.get(key) == "host":
            yield f"{key} is host: the task shares the host's namespace"


def _read_only_root(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if container.get("readonlyRootFilesystem") is not True:
            yield (
                f"container '{container.get('name')}' has a writable root filesystem: set "
                "readonlyRootFilesystem and mount a volume for what it writes"
            )


# The program's /tmp preparation: its own pinned image, running exactly one chmod (the pack
# runs in its own virtualenv, so it repeats the program's values; a test keeps them equal).
TMP_PREPARATION_IMAGE = "public.ecr.aws/docker/library/busybox:1.37.0"
TMP_PREPARATION_COMMAND = (["/bin/chmod"], ["1777", "/tmp"])


def _is_tmp_preparation(container: Mapping[str, Any]) -> bool:
    """The non-essential init container that only makes the /tmp volume writable."""
    mounts = container.get("mountPoints") or []
    return (
        container.get("essential") is False
        and container.get("image") == TMP_PREPARATION_IMAGE
        and (container.get("entryPoint"), container.get("command")) == TMP_PREPARATION_COMMAND
        and [m.get("containerPath") for m in mounts] == ["/tmp"]
    )


def _non_root(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if _is_tmp_preparation(container):
            continue
        user = container.get("user")
        if user is None or str(user) in ROOT_USERS:
            yield (
                f"container '{container.get('name')}' runs as root: set `user` to the "
                "non-root uid its image runs as"
            )


def _no_secrets_in_environment(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        for variable in container.get("environment") or []:
            name = str(variable.get("name", ""))
            if name in SECURITY_HUB_SECRET_VARIABLES or SECRET_LIKE_NAME.search(name):
                yield (
                    f"container '{container.get('name')}' passes {name} in `environment`: "
                    "use `secrets` with a Secrets Manager or SSM parameter ARN"
                )


def _containers_log(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if not (container.get("logConfiguration") or {}).get("logDriver"):
            yield f"container '{container.get('name')}' has no logConfiguration.logDriver"


def _service_connect_logs(props: Mapping[str, Any]) -> Iterable[str]:
    # ECS adds the Service Connect proxy to each task; its logs are set on the service, since
    # the task definition does not list it.
    configuration = props.get("serviceConnectConfiguration") or {}
    if configuration.get("enabled") is True and not (
        configuration.get("logConfiguration") or {}
    ).get("logDriver"):
        yield (
            "Service Connect is on and its proxy has no logConfiguration.logDriver: set "
            "serviceConnectConfiguration.logConfiguration"
        )


def _container_insights(props: Mapping[str, Any]) -> Iterable[str]:
    settings = {s.get("name"): s.get("value") for s in props.get("settings") or []}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        yield "Container Insights is off: set the containerInsights setting to enabled"


def _separate_roles(props: Mapping[str, Any]) -> Iterable[str]:
    task_role, execution_role = props.get("taskRoleArn"), props.get("executionRoleArn")
    if task_role is not None and task_role == execution_role:
        yield "the task role and the execution role are the same role"


# --- load balancing --------------------------------------------------------------------------


def _is_application(props: Mapping[str, Any]) -> bool:
    return props.get("loadBalancerType", "application") == "application"


def _redirects_http(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") != "HTTP":
        return
    actions = list(props.get("defaultActions") or [])
    only = actions[0] if len(actions) == 1 else {}
    if only.get("type") == "redirect" and (only.get("redirect") or {}).get("protocol") == "HTTPS":
        return
    yield "an HTTP listener serves traffic: its default action must redirect to HTTPS"


def _drops_invalid_headers(props: Mapping[str, Any]) -> Iterable[str]:
    if _is_application(props) and props.get("dropInvalidHeaderFields") is not True:
        yield "dropInvalidHeaderFields is not true"


def _access_logs(props: Mapping[str, Any]) -> Iterable[str]:
    if (props.get("accessLogs") or {}).get("enabled") is not True:
        yield "access logs are off: set accessLogs with a bucket and enabled true"


def _deletion_protection(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("enableDeletionProtection") is not True:
        yield "deletion protection is off"


def _desync_mitigation(props: Mapping[str, Any]) -> Iterable[str]:
    if _is_application(props) and props.get("desyncMitigationMode") not in (
        "defensive",
        "strictest",
    ):
        yield "desyncMitigationMode is not set to defensive or strictest"


def _tls13(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") == "HTTPS" and not TLS13_POLICY.match(
        str(props.get("sslPolicy") or "")
    ):
        yield (
            f"HTTPS listener with ssl policy {props.get('sslPolicy')!r}: set a TLS 1.3 policy "
            "such as ELBSecurityPolicy-TLS13-1-2-2021-06"
        )


# --- network ---------------------------------------------------------------------------------


def _default_group_closed(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("ingress") or props.get("egress"):
        yield "the VPC's default security group has rules: leave ingress and egress empty"


def _described(props: Mapping[str, Any]) -> Iterable[str]:
    if not str(props.get("description") or "").strip():
        yield "no description"


def _public_ingress_only_web(props: Mapping[str, Any]) -> Iterable[str]:
    sources = [props.get(k) for k in ("cidrIpv4", "cidrIpv6", "prefixListId")]
    if not any(sources):
        return
    protocol, low, high = props.get("ipProtocol"), props.get("fromPort"), props.get("toPort")
    if protocol != "tcp" or low != high or low not in (80, 443):
        yield (
            f"address-range ingress on {protocol} {low}-{high}: only the load balancer may be "
            "open to address ranges, on 80 and 443; services admit security groups"
        )


def _flow_logs(resources: Sequence[PolicyResource]) -> Iterable[tuple[str, str | None]]:
    """Each VPC has a flow log whose `vpcId` comes from it (or from the component that owns
    it: an awsx VPC hands out its `aws:ec2/vpc:Vpc` child's id)."""
    vpcs = [r for r in resources if r.resource_type == VPC]
    owners = {vpc.parent.urn for vpc in vpcs if vpc.parent is not None}
    # Where the engine shows no child VPC (e.g. an awsx component rendered alone), the
    # component stands for its VPC.
    vpcs += [r for r in resources if r.resource_type == AWSX_VPC and r.urn not in owners]
    sources = _referenced_by(resources, FLOW_LOG, "vpcId")
    for vpc in vpcs:
        parent = vpc.parent.urn if vpc.parent is not None else None
        if vpc.urn not in sources and parent not in sources:
            yield ("the VPC has no flow log to CloudWatch Logs or S3", vpc.urn)


# --- IAM -------------------------------------------------------------------------------------


ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::[^:]+:root$")


def _is_key_administration(statement: Mapping[str, Any], key_policy: bool) -> bool:
    """AWS's default key policy statement: the account itself may administer the key through
    IAM (without it a key can become unmanageable). Only in a KMS key policy."""
    principals = _as_list((statement.get("Principal") or {}).get("AWS"))
    return (
        key_policy
        and _as_list(statement.get("Action")) == ["kms:*"]
        and bool(principals)
        and all(ACCOUNT_ROOT.match(str(p)) for p in principals)
    )


def _no_wildcard_actions(props: Mapping[str, Any]) -> Iterable[str]:
    documents = [props.get("policy")] if "policy" in props else []
    documents += [p.get("policy") for p in props.get("inlinePolicies") or []]
    key_policy = "enableKeyRotation" in props or "keyUsage" in props
    for document in filter(None, documents):
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or _is_key_administration(statement, key_policy):
                continue
            for action in _as_list(statement.get("Action")):
                if action == "*" or str(action).endswith(":*"):
                    yield f"allows every action of {action!r}: name the actions it needs"


def _trust_limited_to_account(props: Mapping[str, Any]) -> Iterable[str]:
    for statement in _statements(props["assumeRolePolicy"]):
        services = _as_list((statement.get("Principal") or {}).get("Service"))
        if "ecs-tasks.amazonaws.com" not in services:
            continue
        condition = statement.get("Condition") or {}
        if "aws:SourceAccount" not in (condition.get("StringEquals") or {}):
            yield (
                "ecs-tasks.amazonaws.com may assume the role without an aws:SourceAccount condition"
            )


# --- logs and storage ------------------------------------------------------------------------


def _retention_set(props: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("retentionInDays"):
        yield "the log group keeps its logs forever: set retentionInDays"


def _retention_one_year(props: Mapping[str, Any]) -> Iterable[str]:
    days = props.get("retentionInDays")
    if not days or int(days) < 365:
        yield f"retention {days} days is under the 365 days production keeps logs"


def _log_group_encrypted(props: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("kmsKeyId"):
        yield "the log group is not encrypted with a customer-managed KMS key"


def _public_access_blocked(props: Mapping[str, Any]) -> Iterable[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [flag for flag in flags if props.get(flag) is not True]
    if off:
        yield f"public access is not fully blocked: {', '.join(off)} not true"


def _buckets_have_public_access_blocks(
    resources: Sequence[PolicyResource],
) -> Iterable[tuple[str, str | None]]:
    blocked = _referenced_by(resources, PUBLIC_ACCESS_BLOCK, "bucket")
    for bucket in resources:
        if bucket.resource_type == BUCKET and bucket.urn not in blocked:
            yield ("the bucket has no public access block", bucket.urn)


def _tls_only(props: Mapping[str, Any]) -> Iterable[str]:
    for statement in _statements(props["policy"]):
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        if (
            statement.get("Effect") == "Deny"
            and str(condition.get("aws:SecureTransport")) == "false"
        ):
            return
    yield "the bucket policy does not deny requests without TLS (aws:SecureTransport false)"


def _task_roles_reach_own_tables(
    resources: Sequence[PolicyResource],
) -> Iterable[tuple[str, str | None]]:
    """A task role's policies read the ARNs of its own service's tables, and of the keys that
    encrypt them, only. A service's resources are named from its component
    (`<component>-task-role`, `<component>-data-table`, `<component>-data-key`), so ownership
    is read from the names of what a policy reads; a table's key is a key some table's
    `serverSideEncryption` reads."""
    table_keys = _referenced_by(resources, DYNAMODB_TABLE, "serverSideEncryption")
    for policy in resources:
        if policy.resource_type != ROLE_POLICY:
            continue
        dependencies = policy.property_dependencies
        roles = [r for r in dependencies.get("role", []) if r.name.endswith("-task-role")]
        reached = [
            (what, resource)
            for resource in dependencies.get("policy", [])
            for what in (
                "table" if resource.resource_type == DYNAMODB_TABLE else None,
                "table key" if resource.urn in table_keys else None,
            )
            if what is not None
        ]
        for role in roles:
            owner = role.name.removesuffix("-task-role")
            for what, resource in reached:
                if not resource.name.startswith(f"{owner}-"):
                    yield (
                        f"the task role of {owner} reaches {resource.name}, another service's "
                        f"{what}: give each service's role its own table and key only",
                        policy.urn,
                    )


def _alb_has_waf(resources: Sequence[PolicyResource]) -> Iterable[tuple[str, str | None]]:
    protected = _referenced_by(resources, WAF_ASSOCIATION, "resourceArn")
    for alb in resources:
        unprotected = alb.resource_type == LOAD_BALANCER and alb.urn not in protected
        if unprotected and _is_application(alb.props):
            yield ("the ALB has no AWS WAF web ACL", alb.urn)


CONTROLS: tuple[Control, ...] = (
    Control(
        name="ecs-release-rollback",
        ids="project",
        description=(
            "ECS services roll a release back by themselves: on tasks that fail to start "
            "(circuit breaker) and on the alarms that mean a bad release (deployment alarms)."
        ),
        how=(
            "Every service keeps the circuit breaker with rollback; its release alarms (5xx "
            "rate, unhealthy targets, p99 latency; for a service without a route, its callers' "
            "5xx rate and p99 latency under Service Connect, else running tasks) are in its "
            "`alarms` block with rollback, on by default in production "
            "(`services.<name>.alarms.rollback`)."
        ),
        scope="production",
        on_unknown="deny",
        types=(ECS_SERVICE,),
        check=_release_safeguards,
    ),
    Control(
        name="ecs-no-public-ip",
        ids="ECS.2, CKV_AWS_333",
        description="ECS services do not assign public IPs to their tasks.",
        how="Services run in private subnets with `assignPublicIp: false`; egress through NAT.",
        scope="all",
        on_unknown="deny",
        types=(ECS_SERVICE,),
        check=_no_public_ip,
    ),
    Control(
        name="ecs-not-privileged",
        ids="ECS.4",
        description="Containers do not run privileged.",
        how="Every container definition sets `privileged: false`.",
        scope="all",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_not_privileged,
    ),
    Control(
        name="ecs-no-host-namespaces",
        ids="ECS.3",
        description="Task definitions do not share the host's process or IPC namespace.",
        how="Task definitions set neither `pidMode` nor `ipcMode`.",
        scope="all",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_no_host_namespaces,
    ),
    Control(
        name="ecs-read-only-root",
        ids="ECS.5",
        description="Containers have read-only root filesystems.",
        how="`readonlyRootFilesystem: true`, with a task volume mounted writable at `/tmp`.",
        scope="all",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_read_only_root,
    ),
    Control(
        name="ecs-no-secrets-in-environment",
        ids="ECS.8",
        description="No secrets in container environment variables; secrets go through `secrets`.",
        how=(
            "Config `secrets` become the task's `secrets` (ARNs); config stored as secrets is "
            "refused."
        ),
        scope="all",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_no_secrets_in_environment,
    ),
    Control(
        name="ecs-containers-log",
        ids="ECS.9",
        description="Every container has a log configuration.",
        how="Every container logs to its service's log group through `awslogs`.",
        scope="all",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_containers_log,
    ),
    Control(
        name="ecs-service-connect-logs",
        ids="project",
        description="The Service Connect proxy that ECS adds to a service's tasks logs too.",
        how=(
            "Under `discovery.mode: serviceConnect` each service's "
            "`serviceConnectConfiguration.logConfiguration` sends its proxy's logs to the "
            "service's log group (`awslogs`, stream prefix `service-connect`)."
        ),
        scope="all",
        on_unknown="deny",
        types=(ECS_SERVICE,),
        check=_service_connect_logs,
    ),
    Control(
        name="ecs-container-insights",
        ids="ECS.12",
        description="ECS clusters have Container Insights on.",
        how=(
            "The cluster sets `containerInsights` (config `cluster.containerInsights`, default "
            "enabled)."
        ),
        scope="all",
        on_unknown="deny",
        types=(CLUSTER,),
        check=_container_insights,
    ),
    Control(
        name="ecs-non-root-user",
        ids="ECS.20",
        description=(
            "Containers run as a non-root user (a non-essential init container that only opens "
            "the /tmp volume is exempt)."
        ),
        how=(
            "Containers run as the spec's uid (101 for the default image); production requires one."
        ),
        scope="production",
        on_unknown="deny",
        types=(TASK_DEFINITION,),
        check=_non_root,
    ),
    Control(
        name="ecs-separate-task-and-execution-roles",
        ids="CKV_AWS_249",
        description="A task definition's task role and execution role are different roles.",
        how="Each service has its own execution role and task role.",
        scope="all",
        # Role ARNs are unknown until the roles exist; `pulumi up` checks them.
        on_unknown="allow",
        types=(TASK_DEFINITION,),
        check=_separate_roles,
    ),
    Control(
        name="elb-http-redirects-to-https",
        ids="ELB.1",
        description="HTTP listeners only redirect to HTTPS.",
        how="With a certificate, port 80 only redirects to 443 (HTTP_301).",
        scope="production",
        on_unknown="deny",
        types=(LISTENER,),
        check=_redirects_http,
    ),
    Control(
        name="elb-drop-invalid-headers",
        ids="ELB.4",
        description="Application load balancers drop invalid HTTP headers.",
        how="`dropInvalidHeaderFields: true` on the ALB.",
        scope="all",
        on_unknown="deny",
        types=(LOAD_BALANCER,),
        check=_drops_invalid_headers,
    ),
    Control(
        name="elb-access-logs",
        ids="ELB.5",
        description="Load balancers write access logs.",
        how=(
            "`loadBalancer.accessLogs`: a private, encrypted bucket with expiry; ELB log delivery"
            " may write."
        ),
        scope="production",
        on_unknown="deny",
        types=(LOAD_BALANCER,),
        check=_access_logs,
    ),
    Control(
        name="elb-deletion-protection",
        ids="ELB.6",
        description="Load balancers have deletion protection on.",
        how="`loadBalancer.deletionProtection`.",
        scope="production",
        on_unknown="deny",
        types=(LOAD_BALANCER,),
        check=_deletion_protection,
    ),
    Control(
        name="elb-desync-mitigation",
        ids="ELB.12",
        description="Application load balancers use defensive or strictest desync mitigation.",
        how="`desyncMitigationMode: defensive` on the ALB.",
        scope="all",
        on_unknown="deny",
        types=(LOAD_BALANCER,),
        check=_desync_mitigation,
    ),
    Control(
        name="dynamodb-own-table-only",
        ids="project",
        description=(
            "A service's task role reaches no other service's DynamoDB table, nor the key that "
            "encrypts one."
        ),
        how=(
            "A service that owns a table gets item-level actions on that table's ARN alone "
            "(`table=True` in its spec) and, for a table under its own key, that key through "
            "DynamoDB (`kms:ViaService`); no other role is granted either."
        ),
        scope="all",
        on_unknown="allow",
        check_stack=_task_roles_reach_own_tables,
    ),
    Control(
        name="elb-waf",
        ids="ELB.16",
        description="Application load balancers are associated with an AWS WAF web ACL.",
        how=(
            "`loadBalancer.waf`: a web ACL with AWS's common, known-bad-inputs and IP-reputation "
            "rule groups."
        ),
        scope="production",
        on_unknown="deny",
        check_stack=_alb_has_waf,
    ),
    Control(
        name="elb-tls13-policy",
        ids="ELB.17",
        description="HTTPS listeners set a TLS 1.3 security policy explicitly.",
        how="HTTPS listeners set `ELBSecurityPolicy-TLS13-1-2-2021-06`.",
        scope="all",
        on_unknown="deny",
        types=(LISTENER,),
        check=_tls13,
    ),
    Control(
        name="ec2-default-security-group-closed",
        ids="EC2.2",
        description="The VPC's default security group has no rules.",
        how="The new VPC's default security group is adopted with no rules.",
        scope="all",
        on_unknown="deny",
        types=(DEFAULT_SECURITY_GROUP,),
        check=_default_group_closed,
    ),
    Control(
        name="ec2-vpc-flow-logs",
        ids="EC2.6",
        description="VPCs created by the stack have flow logs.",
        how=(
            "`network.flowLogs`: all traffic to a log group, delivered by a role only this "
            "account's flow logs assume."
        ),
        scope="production",
        on_unknown="deny",
        check_stack=_flow_logs,
    ),
    Control(
        name="security-groups-described",
        ids="project",
        description="Every security group and security group rule has a description.",
        how="Every group and rule is created with a description.",
        scope="all",
        on_unknown="deny",
        types=(SECURITY_GROUP, INGRESS_RULE, EGRESS_RULE),
        check=_described,
    ),
    Control(
        name="security-groups-public-ingress-only-web",
        ids="project",
        description=(
            "Only the load balancer is open to address ranges, on 80 and 443; services admit "
            "security groups."
        ),
        how=(
            "Only the ALB group admits `loadBalancer.ingressCidrs`, on 80/443; services admit the"
            " ALB's and their callers' groups."
        ),
        scope="all",
        on_unknown="deny",
        types=(INGRESS_RULE,),
        check=_public_ingress_only_web,
    ),
    Control(
        name="iam-no-wildcard-actions",
        ids="IAM.1, IAM.21",
        description=(
            "IAM and KMS key policies name their actions: no `*` and no `service:*` (except "
            "AWS's default key policy statement that lets the account administer a key)."
        ),
        how=(
            "Execution roles name their actions (logs, ECR pulls, exactly the service's secrets);"
            " task roles have none."
        ),
        scope="all",
        # Policy documents that name a resource's ARN are unknown until it exists.
        on_unknown="allow",
        types=(ROLE_POLICY, IAM_POLICY, ROLE, KMS_KEY),
        check=_no_wildcard_actions,
    ),
    Control(
        name="iam-ecs-trust-source-account",
        ids="project (confused deputy)",
        description="Roles that ECS tasks assume trust only this account (aws:SourceAccount).",
        how=(
            "Task and execution roles trust `ecs-tasks.amazonaws.com` with `aws:SourceAccount` "
            "(task roles also `aws:SourceArn`)."
        ),
        scope="all",
        # The trust policy names the account id, which previews may not know.
        on_unknown="allow",
        types=(ROLE,),
        check=_trust_limited_to_account,
    ),
    Control(
        name="cloudwatch-log-retention",
        ids="CloudWatch.16",
        description="Log groups keep logs for a set period, never forever.",
        how="Every log group sets `logs.retentionDays`.",
        scope="all",
        on_unknown="deny",
        types=(LOG_GROUP,),
        check=_retention_set,
    ),
    Control(
        name="cloudwatch-log-retention-one-year",
        ids="CloudWatch.16",
        description="Production log groups keep logs for at least 365 days.",
        how="Production keeps logs 365 days.",
        scope="production",
        on_unknown="deny",
        types=(LOG_GROUP,),
        check=_retention_one_year,
    ),
    Control(
        name="cloudwatch-log-group-kms",
        ids="CKV_AWS_158",
        description="Production log groups are encrypted with a customer-managed KMS key.",
        how=(
            "`logs.kmsEncryption`: a customer-managed key with rotation that only CloudWatch Logs"
            " of this account and region may use."
        ),
        scope="production",
        # The key's ARN is unknown until the key exists.
        on_unknown="allow",
        types=(LOG_GROUP,),
        check=_log_group_encrypted,
    ),
    Control(
        name="s3-public-access-blocked",
        ids="S3.8",
        description="Public access blocks on buckets block everything.",
        how="The access-log bucket blocks all four kinds of public access.",
        scope="all",
        on_unknown="deny",
        types=(PUBLIC_ACCESS_BLOCK,),
        check=_public_access_blocked,
    ),
    Control(
        name="s3-bucket-has-public-access-block",
        ids="S3.8",
        description="Every bucket the stack creates has a public access block.",
        how="The only bucket, for access logs, has its public access block.",
        scope="all",
        on_unknown="deny",
        check_stack=_buckets_have_public_access_blocks,
    ),
    Control(
        name="s3-tls-only",
        ids="S3.5",
        description="Bucket policies deny requests that do not use TLS.",
        how="The bucket policy denies requests without TLS.",
        scope="all",
        # The policy names the bucket's ARN, unknown until the bucket exists.
        on_unknown="allow",
        types=(BUCKET_POLICY,),
        check=_tls_only,
    ),
)


def _report(
    control: Control,
    violations: Callable[[], Iterable[tuple[str, str | None]]],
    report_violation: ReportViolation,
) -> None:
    """Report a control's violations; an unknown value is decided by `on_unknown`."""
    try:
        found = list(violations())
    except UnknownValueError as unknown:
        if control.on_unknown == "deny":
            report_violation(
                f"cannot be verified before the value is known: {unknown.message}", None
            )
        return
    for message, urn in found:
        report_violation(message, urn)


def _resource_policy(control: Control) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        check = control.check
        if args.resource_type in control.types and check is not None:
            _report(control, lambda: ((m, None) for m in check(args.props)), report_violation)

    return ResourceValidationPolicy(
        name=control.name,
        description=control.full_description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _stack_policy(control: Control) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        check_stack = control.check_stack
        assert check_stack is not None
        _report(control, lambda: check_stack(args.resources), report_violation)

    return StackValidationPolicy(
        name=control.name,
        description=control.full_description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every control as a policy, mandatory by default; `config/development.json` makes the
    production-only controls advisory (a test keeps it in step with CONTROLS)."""
    return [
        _stack_policy(control) if control.check_stack is not None else _resource_policy(control)
        for control in CONTROLS
    ]


def controls_table() -> str:
    """The README's table of controls, generated so that it cannot drift from the pack."""
    rows = [
        "| control | id | how it is met | dev | prod |",
        "|---|---|---|---|---|",
    ]
    for control in CONTROLS:
        dev = "mandatory" if control.scope == "all" else "advisory"
        rows.append(f"| `{control.name}` | {control.ids} | {control.how} | {dev} | mandatory |")
    return "\n".join(rows) + "\n"
