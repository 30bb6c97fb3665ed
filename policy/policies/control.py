"""What every control is made of: the Control, the resource types it looks at, the readers
several areas share, and how a control becomes a CrossGuard policy (its violations reported,
an unknown value decided by `on_unknown`).

This package depends on pulumi-policy alone, so the pack runs in its own virtualenv."""

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


ResourceCheck = Callable[[Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[PolicyResource]], Iterable[tuple[str, str | None]]]


class Declared:
    """An area's controls, in the order they are declared: each check function is made a
    control by the decorator above it, which names it and says what it is for, as awsguard
    declares each policy next to its validation."""

    def __init__(self) -> None:
        self._controls: list[Control] = []

    def resource(self, **fields: Any) -> Callable[[ResourceCheck], ResourceCheck]:
        """A resource control: `check` yields the violations of one resource's inputs."""

        def declare(check: ResourceCheck) -> ResourceCheck:
            self._controls.append(Control(check=check, **fields))
            return check

        return declare

    def stack(self, **fields: Any) -> Callable[[StackCheck], StackCheck]:
        """A stack control: `check_stack` yields (violation, URN or None) over all resources."""

        def declare(check: StackCheck) -> StackCheck:
            self._controls.append(Control(check_stack=check, **fields))
            return check

        return declare

    def controls(self) -> tuple[Control, ...]:
        return tuple(self._controls)


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


def resource_policy(control: Control) -> ResourceValidationPolicy:
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


def stack_policy(control: Control) -> StackValidationPolicy:
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
