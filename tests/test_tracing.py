"""Traces: a collector beside every application in a tracing environment, the application's
OpenTelemetry settings pointing at it, exactly the exporter's permissions, and the account's
Transaction Search; nothing of it where tracing is off."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.observability.tracing import (
    COLLECTOR_CONTAINER,
    COLLECTOR_IMAGE,
    OTLP_HTTP_PORT,
    CollectorArgs,
    collector_config,
    tracing_environment,
)
from config import load_settings
from config.limits import FARGATE_MEMORY_BY_CPU, SERVICE_CONNECT_PROXY_MEMORY
from config.schema import ObservabilityConfig, ServiceConfig
from offline.preview.report import preview_text
from offline.render.harness import Rendering
from services import CATALOG
from tests.conftest import containers, environment_of, render_with
from tests.test_config import problems, raw_config

TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
DESTINATION = "aws:xray/traceSegmentDestination:TraceSegmentDestination"
DEFAULTS = ObservabilityConfig()


def tracing_on(stack: str) -> bool:
    return load_settings(raw_config(stack), stack=stack, region="us-east-1").tracing


def task(rendering: Rendering, service: str) -> dict[str, Any]:
    return rendering.named(f"{rendering.stack}-{service}-task", TASK).inputs


def collector(rendering: Rendering, service: str) -> dict[str, Any]:
    (found,) = [c for c in containers(rendering, service) if c["name"] == COLLECTOR_CONTAINER]
    return found


def application(rendering: Rendering, service: str) -> dict[str, Any]:
    (found,) = [c for c in containers(rendering, service) if c["essential"]]
    return found


def test_the_committed_stacks_trace_as_their_environment_says() -> None:
    assert tracing_on("prod") is True
    assert tracing_on("dev") is False


# --- prod: tracing on ------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_every_task_runs_a_pinned_non_root_non_essential_collector(
    prod: Rendering, service: str
) -> None:
    sidecar = collector(prod, service)
    assert sidecar["image"] == COLLECTOR_IMAGE
    name, _, tag = sidecar["image"].rpartition(":")
    assert name == "public.ecr.aws/aws-observability/aws-otel-collector"
    assert tag.startswith("v") and tag != "latest"
    assert sidecar["essential"] is False, "the application keeps serving if the collector stops"
    assert sidecar["user"] not in (None, "0", "root")
    assert sidecar["readonlyRootFilesystem"] is True and sidecar["privileged"] is False
    # ECS runs CMD and its arguments without a shell; the image has none.
    assert sidecar["healthCheck"]["command"][0] == "CMD"
    app_logs = application(prod, service)["logConfiguration"]["options"]
    logs = sidecar["logConfiguration"]["options"]
    assert logs["awslogs-group"] == app_logs["awslogs-group"]
    assert logs["awslogs-stream-prefix"] == COLLECTOR_CONTAINER != app_logs["awslogs-stream-prefix"]
    assert "portMappings" not in sidecar, "it listens on the task's loopback only"


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_the_collector_is_carved_out_of_the_task(prod: Rendering, service: str) -> None:
    inputs = task(prod, service)
    app, sidecar = application(prod, service), collector(prod, service)
    assert (sidecar["cpu"], sidecar["memory"]) == (
        DEFAULTS.collector_cpu,
        DEFAULTS.collector_memory,
    )
    assert app["cpu"] + sidecar["cpu"] == int(inputs["cpu"])
    assert app["memory"] + sidecar["memory"] == int(inputs["memory"])


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_the_application_exports_to_its_collector(prod: Rendering, service: str) -> None:
    env = environment_of(application(prod, service))
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{OTLP_HTTP_PORT}"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == service
    assert env["OTEL_PROPAGATORS"] == "tracecontext"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert float(env["OTEL_TRACES_SAMPLER_ARG"]) == DEFAULTS.sampling_ratio
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=prod"
    # ...where the collector listens, and from where it sends to X-Ray in the stack's region.
    sidecar_env = {e["name"]: e["value"] for e in collector(prod, service)["environment"]}
    config = yaml.safe_load(sidecar_env["AOT_CONFIG_CONTENT"])
    receiver = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert receiver == f"127.0.0.1:{OTLP_HTTP_PORT}"
    exporter = config["exporters"]["otlphttp"]
    assert exporter["traces_endpoint"] == "https://xray.us-east-1.amazonaws.com/v1/traces"
    assert config["extensions"]["sigv4auth"] == {"region": "us-east-1", "service": "xray"}
    assert exporter["auth"] == {"authenticator": "sigv4auth"}


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_the_task_role_gets_exactly_the_exporters_actions(prod: Rendering, service: str) -> None:
    policy = prod.named(f"prod-{service}-tracing-policy", ROLE_POLICY)
    assert policy.inputs["role"] == f"${{prod-{service}-task-role.id}}"
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert {s["Sid"]: (sorted(s["Action"]), s["Resource"]) for s in statements} == {
        "WriteTraces": (
            ["xray:PutSpans", "xray:PutSpansForIndexing", "xray:PutTraceSegments"],
            "*",
        ),
        "ReadSamplingRules": (["xray:GetSamplingRules", "xray:GetSamplingTargets"], "*"),
    }
    # The execution role (the agent's) gets none of it.
    execution = json.loads(
        prod.named(f"prod-{service}-execution-policy", ROLE_POLICY).inputs["policy"]
    )
    assert not any("xray:" in str(s["Action"]) for s in execution["Statement"])


def test_prod_turns_on_transaction_search_once(prod: Rendering) -> None:
    (policy,) = prod.of_type(LOG_POLICY)
    (destination,) = prod.of_type(DESTINATION)
    assert destination.inputs["destination"] == "CloudWatchLogs"
    assert policy.urn in destination.dependencies, "the policy comes first, as AWS's steps say"
    assert policy.inputs["policyName"] == "microservices-prod-transaction-search"
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "xray.amazonaws.com"}
    assert statement["Action"] == "logs:PutLogEvents"
    assert [r.split(":log-group:")[1] for r in statement["Resource"]] == [
        "aws/spans:*",
        "/aws/application-signals/data:*",
    ]
    assert set(statement["Condition"]) == {"ArnLike", "StringEquals"}


def test_a_stack_that_leaves_transaction_search_to_another_creates_none() -> None:
    rendering = render_with("prod", [("observability.manageTransactionSearch", "false")])
    assert rendering.of_type(LOG_POLICY) == [] and rendering.of_type(DESTINATION) == []
    assert collector(rendering, "order-service")["essential"] is False


def test_the_sampling_ratio_comes_from_config() -> None:
    rendering = render_with("prod", [("observability.samplingRatio", "0.25")])
    env = environment_of(application(rendering, "user-service"))
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"


# --- dev: tracing off, unless turned on ------------------------------------------------------


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_dev_runs_no_collector_and_no_exporter(dev: Rendering, service: str) -> None:
    assert [c["name"] for c in containers(dev, service)] == [
        c["name"] for c in containers(dev, service) if c["name"] != COLLECTOR_CONTAINER
    ]
    app = application(dev, service)
    assert not [k for k in environment_of(app) if k.startswith("OTEL_")]
    assert "cpu" not in app and "memory" not in app, "the application has the whole task"
    assert not [r for r in dev.of_type(ROLE_POLICY) if r.name.endswith("-tracing-policy")]
    assert dev.of_type(LOG_POLICY) == [] and dev.of_type(DESTINATION) == []


def test_dev_traces_when_asked() -> None:
    rendering = render_with("dev", [("observability.tracing", "true")])
    for service in CATALOG:
        app, sidecar = application(rendering, service), collector(rendering, service)
        assert app["cpu"] + sidecar["cpu"] == int(task(rendering, service)["cpu"])
        assert environment_of(app)["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=dev"
    assert len(rendering.of_type(DESTINATION)) == 1


# --- validation ------------------------------------------------------------------------------


def smallest_memory() -> int:
    """The memory of a task at the default size (no stack sets a size for it here)."""
    return ServiceConfig().memory


def test_a_task_too_small_for_both_is_refused() -> None:
    memory = smallest_memory()
    collector = memory * 3 // 4  # leaves the application a quarter: less than the collector's
    raw = {"observability": {"tracing": True, "collectorMemory": collector}}
    needed = 2 * collector
    assert problems(raw) == [
        f"services.{name}.memory: {memory} leaves the application {memory - collector} MiB "
        f"beside the trace collector's {collector} (observability.collectorMemory) (allowed: "
        f"at least {needed}, so that the application keeps as much as the collector, or a "
        "smaller observability.collectorMemory, or observability.tracing false); fix: pulumi "
        f"config set --path 'services.{name}.memory' "
        f"{min(m for m in FARGATE_MEMORY_BY_CPU[ServiceConfig().cpu] if m >= needed)}"
        for name in sorted(CATALOG)
    ]


def test_service_connect_s_proxy_counts_against_the_application() -> None:
    # Half the task for the collector fits alone; beside the proxy's memory it does not.
    memory = smallest_memory()
    collector = memory // 2
    alone = {"observability": {"tracing": True, "collectorMemory": collector}}
    assert load_settings(alone, stack="dev", region="us-east-1").tracing
    with_proxy = {**alone, "discovery": {"mode": "serviceConnect"}}
    messages = problems(with_proxy)
    assert len(messages) == len(CATALOG)
    assert all(
        f"leaves the application {memory - collector - SERVICE_CONNECT_PROXY_MEMORY} MiB beside "
        f"the trace collector's {collector} (observability.collectorMemory) and the Service "
        f"Connect proxy's {SERVICE_CONNECT_PROXY_MEMORY}" in message
        for message in messages
    )


def test_a_collector_too_big_is_not_checked_when_tracing_is_off() -> None:
    too_big = {"collectorMemory": smallest_memory()}
    settings = load_settings({"observability": too_big}, stack="dev", region="us-east-1")
    assert settings.tracing is False  # loaded: no error while nothing runs a collector
    assert problems({"observability": {**too_big, "tracing": True}})


def test_the_sampling_ratio_is_a_share() -> None:
    assert problems({"observability": {"samplingRatio": 1.5}}) == [
        "observability.samplingRatio: 1.5 is out of range (allowed: 0..1); fix: pulumi config "
        "set --path 'observability.samplingRatio' 0.05"
    ]


# --- pure functions --------------------------------------------------------------------------


def test_tracing_environment_prints_the_ratio_as_given() -> None:
    args = CollectorArgs(cpu=64, memory=128, sampling_ratio=0.05, environment_name="qa")
    env = tracing_environment("order-service", args)
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.05"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=qa"


def test_the_collector_pipeline_limits_memory_before_batching() -> None:
    pipeline = collector_config("eu-west-1")["service"]["pipelines"]["traces"]
    assert pipeline == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch"],
        "exporters": ["otlphttp"],
    }


# --- the preview -----------------------------------------------------------------------------


def test_the_preview_says_whether_the_stack_traces(dev: Rendering, prod: Rendering) -> None:
    assert "Tracing: off (observability.tracing)\n" in preview_text(dev)
    assert (
        f"Tracing: on in {len(CATALOG)} of {len(CATALOG)} task definitions (an OpenTelemetry "
        "collector beside each application, to X-Ray; new traces sampled at "
        f"{DEFAULTS.sampling_ratio * 100:g}%; this stack turns on the account's Transaction "
        "Search)\n"
    ) in preview_text(prod)
