"""The policy: its statements, each limited to the service stack's own resources."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from offline.delivery.deploy_policy.arns import (
    ACCOUNT_PLACEHOLDER,
    AUTONAME_WILDCARD,
    ECS_PRINCIPAL,
    ECS_SCALABLE_DIMENSION,
    ECS_SCALING_SERVICE,
    ECS_TASKS_PRINCIPAL,
    KEY_SPEC,
    KEY_USAGE,
    POLICY_VERSION,
    alarm_arn,
    alarms_arn,
    autonamed_role_arn,
    ecs_service_arn,
    ecs_service_deployments_arn,
    keys_arn,
    repository_arn,
    s3_bucket_arn,
    s3_object_arn,
    scalable_targets_arn,
    scaling_service_linked_role_arn,
    table_arn,
    task_definition_arn,
    via_service,
)
from offline.delivery.deploy_policy.backend import own_state_keys, read_only_state_keys
from offline.delivery.deploy_policy.events import event_statements
from offline.delivery.deploy_policy.scope import StackScope


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
    statements += event_statements(
        [s.events for s in services],
        partition=p,
        region=region,
        account=account,
        statement=_statement,
        role_arn=lambda name: autonamed_role_arn(p, account, name),
    )
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
