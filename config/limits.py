"""AWS facts the validator enforces, each with where it comes from."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType

# Fargate task sizes: cpu units -> allowed memory (MiB).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: tuple(range(1024, 4096 + 1, 1024)),
        1024: tuple(range(2048, 8192 + 1, 1024)),
        2048: tuple(range(4096, 16384 + 1, 1024)),
        4096: tuple(range(8192, 30720 + 1, 1024)),
        8192: tuple(range(16384, 61440 + 1, 4096)),
        16384: tuple(range(32768, 122880 + 1, 8192)),
    }
)

# CloudWatch Logs PutRetentionPolicy accepts only these values (days).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# ELBv2: listener rule priorities; rules (not counting default rules) and target groups per
# ALB; condition values per rule; path and host patterns of up to 128 characters.
LISTENER_PRIORITY_RANGE = (1, 50000)
ALB_RULES_MAX = 100
ALB_TARGET_GROUPS_MAX = 100
RULE_CONDITION_VALUES_MAX = 5
PATTERN_LENGTH_MAX = 128
PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-.$/~\"'@:+&*?]{1,128}$")
HOST_PATTERN = re.compile(r"^[A-Za-z0-9\-.*?]{1,128}$")

# ELBv2 target group health checks: interval 5-300 s, timeout 2-120 s (and shorter than the
# interval, which CreateTargetGroup enforces), thresholds 2-10.
HEALTH_CHECK_INTERVAL = (5, 300)
HEALTH_CHECK_TIMEOUT = (2, 120)
HEALTH_CHECK_THRESHOLD = (2, 10)

# Fargate Spot: a task gets a two-minute warning (SIGTERM) before an interruption stops it.
FARGATE_SPOT_WARNING_SECONDS = 120

# Fargate Spot and ARM64: AWS's developer guide says "Linux tasks with the ARM64 architecture
# don't support the Fargate Spot capacity provider"
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html),
# while the API reference's CapacityProviderStrategyItem now says FARGATE_SPOT supports ARM64
# on platform version 1.4.0; no announcement confirms the change. ARM64 services keep to
# FARGATE, which both allow: a task that cannot be placed would fail its release.
SPOT_ARCHITECTURES = frozenset({"X86_64"})

# ECS: on Fargate a container's stopTimeout is at most 120 s (default 30 s).
FARGATE_STOP_TIMEOUT_MAX = 120

# ECS: a task definition is at most 64 KiB.
TASK_DEFINITION_MAX_BYTES = 64 * 1024

# ECS container image: up to 255 characters of letters, digits, - _ : . / # before an
# optional @sha256:<64 hex> digest.
IMAGE_REFERENCE = re.compile(r"^[A-Za-z0-9\-_:./#]{1,255}(@sha256:[0-9a-f]{64})?$")

# VPC: security groups hold 60 inbound and 60 outbound rules by default (a quota AWS raises
# on request).
SECURITY_GROUP_RULES_DEFAULT_QUOTA = 60

# VPC: IPv4 blocks between /16 and /28; AWS recommends the RFC 1918 private ranges, and asks
# that 172.17.0.0/16 not be used (some AWS services use it).
VPC_PREFIX_RANGE = (16, 28)
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
RESERVED_BY_AWS_SERVICES = ipaddress.IPv4Network("172.17.0.0/16")

# Subnet sizes of a new VPC (the project's choice), and the aligned block each AZ needs.
PRIVATE_SUBNET_PREFIX = 20
PUBLIC_SUBNET_PREFIX = 24
AZ_BLOCK_PREFIX = 19

# Identifiers.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNS_NAME_RULE = (
    "dot-separated labels of 1..63 characters of a-z, 0-9 and '-', not starting or ending "
    "with '-', 253 characters in all"
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
# Secrets Manager secret or SSM parameter ARNs, the two sources ECS `secrets` accepts.
SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+"
    r"|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$"
)
ACM_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"certificate/(?P<id>[A-Za-z0-9-]+)$"
)
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
# AWS's documentation example account; the committed prod stack uses it as a placeholder.
EXAMPLE_ACCOUNT_ID = "123456789012"


def is_placeholder_certificate(arn: str) -> bool:
    """A stack file's placeholder certificate ARN: the example account, or an all-zero id."""
    match = ACM_ARN.match(arn)
    return match is not None and (
        match["account"] == EXAMPLE_ACCOUNT_ID or set(match["id"]) <= {"0", "-"}
    )


def is_dns_name(name: str) -> bool:
    return len(name) <= 253 and all(DNS_LABEL.match(label) for label in name.split("."))


# Memory left for the Service Connect proxy beside containers with memory limits: AWS asks
# for a task memory above the sum of the containers' limits and recommends at least 64 MiB for
# the proxy (AWS's Service Connect guide, "Service Connect proxy" and "considerations":
# https://github.com/awsdocs/amazon-ecs-developer-guide/blob/49232cf2ab3bbe78781a45fb1a4c4cf7eee8790a/doc_source/service-connect.md).
SERVICE_CONNECT_PROXY_MEMORY = 64

# Events (docs/events.md). An event's name: `<entity>.<verb>`, lowercase; the verbs a table's
# stream makes (INSERT, MODIFY, REMOVE records: DynamoDB's StreamRecord eventName,
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html).
EVENT_NAME = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9]*$")
STREAM_EVENT_VERBS: Mapping[str, str] = MappingProxyType(
    {"created": "INSERT", "updated": "MODIFY", "deleted": "REMOVE"}
)
# SQS: "A queue name can have up to 80 characters. Valid values: alphanumeric characters,
# hyphens (-), and underscores (_). A FIFO queue name must end with the .fifo suffix"
# (CreateQueue, QueueName: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).
SQS_FIFO_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")
# SNS: topic names of up to 256 alphanumerics, hyphens and underscores; a FIFO topic's ends in
# .fifo (CreateTopic, Name: https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html).
SNS_FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
# Lambda: function names of up to 64 letters, digits, hyphens and underscores
# (CreateFunction, FunctionName: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html).
LAMBDA_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# SNS FIFO: 100 subscriptions per topic (https://aws.amazon.com/sns/features/, "FIFO topics").
FIFO_TOPIC_SUBSCRIPTIONS_MAX = 100
