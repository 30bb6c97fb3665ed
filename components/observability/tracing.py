"""Traces to AWS X-Ray: the collector sidecar each task runs, what its exporter may do, and the
account's Transaction Search that X-Ray's OTLP endpoint needs.

The applications export OpenTelemetry spans over OTLP/HTTP to a collector in their own task
(tasks in awsvpc mode share one network namespace, so it listens on 127.0.0.1 only), and the
collector sends them, SigV4-signed, to X-Ray's OTLP endpoint. AWS put the X-Ray SDKs and daemon
in maintenance mode on 2026-02-25 and recommends OpenTelemetry
(https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-eos.html).

The collector is the AWS Distro for OpenTelemetry (ADOT) collector. AWS's OTLP guide calls the
CloudWatch agent the recommended path for most customers
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPGettingStarted.html),
but the agent's image runs as root with no documented non-root user (its Dockerfile is
`FROM scratch` without a USER), and these tasks run every long-lived container as non-root.
The ADOT collector's image runs as uid 4317 (aws-observability/aws-otel-collector,
cmd/awscollector/Dockerfile) and ships a /healthcheck binary; ADOT's docs send traces to the
OTLP endpoint with the otlphttp exporter and SigV4 (https://aws-otel.github.io/docs/getting-started/x-ray/).

Plain functions build the documents; `TransactionSearch` is the one component here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

COLLECTOR_CONTAINER = "otel-collector"
# ADOT collector v0.49.0 from its ECR Public repository (no Docker Hub rate limits, no
# credentials). The tag is the v-prefixed release tag of aws-observability/aws-otel-collector;
# pinned by tag: no digest for it was found in a source that ties the two together.
COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"
# Read in the collector's source at tag v0.49.0: cmd/awscollector/Dockerfile (USER_UID=4317,
# `USER aoc`, /healthcheck), cmd/healthcheck/main.go (probes 127.0.0.1:13133),
# pkg/config/config_factory.go (AOT_CONFIG_CONTENT), pkg/defaultcomponents/defaults.go (the
# otlp receiver, memory_limiter and batch processors, otlphttp exporter, sigv4auth and
# health_check extensions used below).
COLLECTOR_USER = "4317"
"""The uid the ADOT image's Dockerfile creates for its `aoc` user and runs as."""
OTLP_HTTP_PORT = 4318
"""OTLP over HTTP's default port (the collector's otlp receiver)."""
COLLECTOR_HEALTH_PORT = 13133
"""The health_check extension's default port, which the image's /healthcheck probes."""
# X-Ray's OTLP endpoint takes at most 10,000 spans and 5 MB (uncompressed) per request
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html).
# The byte limit binds first: a batch of 1,000 spans stays under it while spans average under
# 5 KB, which these services' spans (a few attributes each) do by a wide margin.
BATCH_MAX_SPANS = 1_000

# What an exporter to X-Ray may call. X-Ray's OTLP endpoint authorises a request as
# xray:PutTraceSegments (https://docs.aws.amazon.com/xray/latest/devguide/xray-opentelemetry-bearer-token.html);
# the Service Authorization Reference lists PutSpans ("upload OpenTelemetry spans") and
# PutSpansForIndexing for the same path, and the sampling reads of AWSXrayWriteOnlyAccess
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html,
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXrayWriteOnlyAccess.html).
# None of them supports resource-level permissions, so the resource is "*".
TRACE_WRITE_ACTIONS = (
    "xray:PutSpans",
    "xray:PutSpansForIndexing",
    "xray:PutTraceSegments",
)
SAMPLING_READ_ACTIONS = ("xray:GetSamplingRules", "xray:GetSamplingTargets")


@dataclass(frozen=True, kw_only=True)
class CollectorArgs:
    """The collector sidecar of one task: its share of the task and where it sends traces."""

    cpu: int
    """CPU units, taken out of the task's."""
    memory: int
    """MiB (a hard limit), taken out of the task's."""
    sampling_ratio: float
    """The share of new traces the application records."""
    environment_name: str
    """`deployment.environment` on every span: the stack."""


def otlp_traces_endpoint(region: str) -> str:
    """X-Ray's OTLP traces endpoint in a region
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html)."""
    return f"https://xray.{region}.amazonaws.com/v1/traces"


def collector_config(region: str) -> dict[str, Any]:
    """The ADOT collector's configuration: OTLP/HTTP in on 127.0.0.1, SigV4-signed OTLP/HTTP out
    to X-Ray, with a memory limit so that a backlog sheds spans instead of growing."""
    return {
        "extensions": {
            "health_check": {"endpoint": f"127.0.0.1:{COLLECTOR_HEALTH_PORT}"},
            "sigv4auth": {"region": region, "service": "xray"},
        },
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}}},
        },
        "processors": {
            # Percentages of the container's memory limit, read from its cgroup.
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25,
            },
            "batch": {
                "timeout": "5s",
                "send_batch_size": BATCH_MAX_SPANS,
                "send_batch_max_size": BATCH_MAX_SPANS,
            },
        },
        "exporters": {
            "otlphttp": {
                "traces_endpoint": otlp_traces_endpoint(region),
                "compression": "gzip",
                "auth": {"authenticator": "sigv4auth"},
            },
        },
        "service": {
            "extensions": ["health_check", "sigv4auth"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlphttp"],
                },
            },
        },
    }


def collector_definition(
    collector: CollectorArgs, *, region: str, log_configuration: Mapping[str, Any]
) -> dict[str, Any]:
    """The collector's container: non-essential (the application keeps serving if it stops),
    non-root, read-only root, its own log stream in the service's log group. Its configuration
    travels in AOT_CONFIG_CONTENT, which replaces the image's default configuration
    (https://aws-otel.github.io/docs/setup/ecs/config-through-ssm)."""
    return {
        "name": COLLECTOR_CONTAINER,
        "image": COLLECTOR_IMAGE,
        "essential": False,
        "user": COLLECTOR_USER,
        "cpu": collector.cpu,
        "memory": collector.memory,
        "environment": [
            {
                "name": "AOT_CONFIG_CONTENT",
                "value": yaml.safe_dump(collector_config(region), sort_keys=False),
            }
        ],
        "readonlyRootFilesystem": True,
        "privileged": False,
        "healthCheck": {
            # ECS runs a command given as CMD and its arguments, without a shell (the image
            # has none): https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
            "command": ["CMD", "/healthcheck"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
        "logConfiguration": dict(log_configuration),
    }


def tracing_environment(service_name: str, collector: CollectorArgs) -> dict[str, str]:
    """The application's OpenTelemetry SDK settings, in the SDK's standard variables: export over
    OTLP/HTTP to the collector, W3C trace context, parent-based ratio sampling."""
    return {
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_HTTP_PORT}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_PROPAGATORS": "tracecontext",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": format(collector.sampling_ratio, "g"),
        "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment={collector.environment_name}",
    }


def exporter_policy() -> dict[str, Any]:
    """The task role's permissions for the collector: write spans, read sampling rules."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteTraces",
                "Effect": "Allow",
                "Action": list(TRACE_WRITE_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "ReadSamplingRules",
                "Effect": "Allow",
                "Action": list(SAMPLING_READ_ACTIONS),
                "Resource": "*",
            },
        ],
    }


def transaction_search_policy(*, account_id: str, region: str, partition: str) -> dict[str, Any]:
    """The CloudWatch Logs resource policy that lets X-Ray write spans into the account's span log
    groups, as AWS documents it for enabling Transaction Search
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Enable-TransactionSearch.html)."""
    logs = f"arn:{partition}:logs:{region}:{account_id}:log-group"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TransactionSearchXRayAccess",
                "Effect": "Allow",
                "Principal": {"Service": "xray.amazonaws.com"},
                "Action": "logs:PutLogEvents",
                "Resource": [
                    f"{logs}:aws/spans:*",
                    f"{logs}:/aws/application-signals/data:*",
                ],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:xray:{region}:{account_id}:*"},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ],
    }


@dataclass(frozen=True, kw_only=True)
class TransactionSearchArgs:
    account_id: pulumi.Input[str]
    region: str
    partition: pulumi.Input[str]
    policy_name: str
    """Account-wide in the region: carries the project and stack."""


class TransactionSearch(pulumi.ComponentResource):
    """CloudWatch Transaction Search for the account and region: X-Ray stores spans in CloudWatch
    Logs, which its OTLP endpoint requires
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPGettingStarted.html).

    Both settings are the account's, not the stack's: the destination's delete is a no-op in the
    provider (terraform-provider-aws internal/service/xray/trace_segment_destination.go,
    WithNoOpDelete) and tolerates a destination already set, so several stacks may declare it;
    the resource policy is named per stack, so each stack's `pulumi destroy` removes only its
    own. The span indexing rule keeps AWS's default (1% of spans indexed at no charge).
    """

    destination: aws.xray.TraceSegmentDestination

    def __init__(
        self,
        name: str,
        args: TransactionSearchArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("microservices:tracing:TransactionSearch", name, None, opts)
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-spans-policy",
            policy_name=args.policy_name,
            policy_document=pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    transaction_search_policy(
                        account_id=values[0], region=args.region, partition=values[1]
                    )
                )
            ),
            # A fixed name, unique in the account and region.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # AWS's steps: the policy first, then the destination.
        self.destination = aws.xray.TraceSegmentDestination(
            f"{name}-destination",
            destination="CloudWatchLogs",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"destination": self.destination.destination})
