"""The IAM documents of a service's task (no Pulumi): who may assume its roles, what the ECS
agent may do for it (pull its image, write its logs, read its secrets) and what the
application may do."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Secrets Manager secret ARN: arn:<partition>:secretsmanager:<region>:<account>:secret:<name>,
# optionally followed by :<json-key>:<version-stage>:<version-id> as ECS accepts.
_SECRETSMANAGER_ARN = re.compile(
    r"^(arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^:]+)(:.*)?$"
)
_PRIVATE_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>[^:@]+)"
)


def assume_role_policy(
    *, account_id: str | None = None, region: str | None = None, partition: str = "aws"
) -> dict[str, Any]:
    """Trust for ECS tasks, limited against the confused deputy problem: with an account, only
    on behalf of that account; with a region too, only for ECS resources there (the form AWS
    documents for task roles)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
        if region is not None:
            statement["Condition"]["ArnLike"] = {
                "aws:SourceArn": f"arn:{partition}:ecs:{region}:{account_id}:*"
            }
    return {"Version": "2012-10-17", "Statement": [statement]}


def task_policy(permissions: Sequence[Mapping[str, Sequence[str]]]) -> dict[str, Any]:
    """The application's own permissions, one statement each, exactly as its spec names them."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"Application{index}",
                "Effect": "Allow",
                "Action": sorted(permission["actions"]),
                "Resource": sorted(permission["resources"]),
            }
            for index, permission in enumerate(permissions, start=1)
        ],
    }


def secret_resources(value_from: Sequence[str]) -> tuple[list[str], list[str]]:
    """IAM resources for the `valueFrom` ARNs: (Secrets Manager secrets, SSM parameters).

    A `valueFrom` may point into a secret (`:json-key:stage:version`); IAM wants the secret's
    own ARN. A secret ARN given without AWS's 6-character suffix also matches `-??????`.
    """
    secrets: list[str] = []
    parameters: list[str] = []
    for arn in value_from:
        match = _SECRETSMANAGER_ARN.match(arn)
        if match:
            base = match.group(1)
            secrets.extend([base, f"{base}-??????"])
        else:
            parameters.append(arn)
    return sorted(set(secrets)), sorted(set(parameters))


def ecr_repository_arn(image: str, partition: str = "aws") -> str | None:
    """The private ECR repository an image comes from, or None for any other registry."""
    match = _PRIVATE_ECR_IMAGE.match(image)
    if match is None:
        return None
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def execution_policy(
    *,
    log_group_arn: str,
    secrets: Sequence[str],
    image: str,
    partition: str = "aws",
    secret_kms_keys: Sequence[str] = (),
    repository_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """What the ECS agent needs to start the task: write its logs, pull its image from
    private ECR if it comes from there (an image reference of a private repository, or the
    repositories named), and read exactly the secrets it names."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        }
    ]
    repositories = sorted({*repository_arns, *filter(None, [ecr_repository_arn(image, partition)])})
    if repositories:
        statements += [
            # GetAuthorizationToken has no resource-level permissions.
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                "Resource": repositories[0] if len(repositories) == 1 else repositories,
            },
        ]
    secret_arns, parameter_arns = secret_resources(secrets)
    if secret_arns:
        statements.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arns,
            }
        )
    if parameter_arns:
        statements.append(
            {
                "Sid": "ReadParameters",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": parameter_arns,
            }
        )
    if secret_kms_keys and (secret_arns or parameter_arns):
        statements.append(
            {
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": sorted(set(secret_kms_keys)),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
