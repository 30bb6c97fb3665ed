"""ARNs, in the formats the SAR gives for each resource type, and the names and principals
they are built from."""

from __future__ import annotations

import re

import naming

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
