"""What the Service Authorization Reference says of each action the policy uses: its resource
types and condition keys, cited."""

from __future__ import annotations

from collections.abc import Mapping

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
    # Lambda
    "lambda:CreateFunction": ("function",),
    "lambda:GetFunction": ("function",),
    "lambda:GetFunctionConfiguration": ("function",),
    "lambda:GetFunctionCodeSigningConfig": ("function",),
    "lambda:ListVersionsByFunction": ("function",),
    "lambda:UpdateFunctionCode": ("function",),
    "lambda:UpdateFunctionConfiguration": ("function",),
    "lambda:DeleteFunction": ("function",),
    "lambda:TagResource": ("eventSourceMapping", "function"),
    "lambda:UntagResource": ("eventSourceMapping", "function"),
    "lambda:ListTags": ("eventSourceMapping", "function"),
    "lambda:CreateEventSourceMapping": (),
    "lambda:GetEventSourceMapping": ("eventSourceMapping",),
    "lambda:UpdateEventSourceMapping": ("eventSourceMapping",),
    "lambda:DeleteEventSourceMapping": ("eventSourceMapping",),
    # SQS
    "sqs:CreateQueue": ("queue",),
    "sqs:GetQueueUrl": ("queue",),
    "sqs:GetQueueAttributes": ("queue",),
    "sqs:SetQueueAttributes": ("queue",),
    "sqs:DeleteQueue": ("queue",),
    "sqs:TagQueue": ("queue",),
    "sqs:UntagQueue": ("queue",),
    "sqs:ListQueueTags": ("queue",),
    # SNS
    "sns:Subscribe": ("topic",),
    "sns:GetSubscriptionAttributes": ("topic",),
    "sns:SetSubscriptionAttributes": ("topic",),
    "sns:Unsubscribe": ("topic",),
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
    **{
        f"lambda:{action}": frozenset({"lambda:FunctionArn"})
        for action in (
            "CreateEventSourceMapping",
            "GetEventSourceMapping",
            "UpdateEventSourceMapping",
            "DeleteEventSourceMapping",
        )
    },
    "sns:Subscribe": frozenset({"sns:Endpoint", "sns:Protocol"}),
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
