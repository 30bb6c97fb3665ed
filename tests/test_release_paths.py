"""What AWS receives on a release, a revert and a switch, on the rendered stacks: the data a
task role can reach under its table's key, image tags under immutable repositories, ARM64
off Fargate Spot, a canary judged per target group, and a production stack that says its
alarms reach nobody."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.service_table import ITEM_ACTIONS, KEY_ACTIONS
from offline import cost
from offline.harness import RecordedResource, Rendering
from tests.conftest import ecs_service, render_with
from tests.metric_math import alarm_value
from tests.test_policies import _policy_resources, rendered_violations, run_stack

TABLE = "aws:dynamodb/table:Table"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IMAGE = "awsx:ecr:Image"


def _owner(table: RecordedResource, stack: str) -> str:
    return table.name.removeprefix(f"{stack}-").removesuffix("-data-table")


def _region(rendering: Rendering) -> str:
    return rendering.config["aws:region"]


# --- 1. a table under its own key -----------------------------------------------------------


def test_production_task_roles_use_their_own_table_key_through_dynamodb_only(
    prod: Rendering,
) -> None:
    tables = prod.of_type(TABLE)
    assert tables, "prod has tables"
    for table in tables:
        owner = _owner(table, "prod")
        key = table.inputs["serverSideEncryption"]["kmsKeyArn"]
        assert key == f"${{prod-{owner}-data-key.arn}}"
        document = json.loads(
            prod.named(f"prod-{owner}-table-policy", ROLE_POLICY).inputs["policy"]
        )
        by_sid = {s["Sid"]: s for s in document["Statement"]}
        assert by_sid["OwnTableItems"]["Resource"] == f"${{prod-{owner}-data-table.arn}}"
        assert by_sid["OwnTableKeyThroughDynamoDB"] == {
            "Sid": "OwnTableKeyThroughDynamoDB",
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
            ],
            "Resource": key,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"dynamodb.{_region(prod)}.amazonaws.com"}
            },
        }
    assert rendered_violations(prod).get("dynamodb-own-table-only") is None


def test_a_table_under_the_aws_owned_key_needs_no_key_statement(dev: Rendering) -> None:
    for table in dev.of_type(TABLE):
        owner = _owner(table, "dev")
        assert table.inputs["serverSideEncryption"] == {"enabled": False}
        document = json.loads(dev.named(f"dev-{owner}-table-policy", ROLE_POLICY).inputs["policy"])
        assert [s["Sid"] for s in document["Statement"]] == ["OwnTableItems"]
        assert document["Statement"][0]["Action"] == list(ITEM_ACTIONS)


def _key_grant(role_owner: str, key_owner: str) -> list[Any]:
    policy = {"policy": json.dumps({"Statement": [{"Action": list(KEY_ACTIONS)}]})}
    return _policy_resources(
        [
            ("aws:kms/key:Key", f"prod-{key_owner}-data-key", {}, {}),
            (
                TABLE,
                f"prod-{key_owner}-data-table",
                {},
                {"serverSideEncryption": [f"prod-{key_owner}-data-key"]},
            ),
            ("aws:iam/role:Role", f"prod-{role_owner}-task-role", {}, {}),
            (
                ROLE_POLICY,
                f"prod-{role_owner}-table-policy",
                policy,
                {
                    "role": [f"prod-{role_owner}-task-role"],
                    "policy": [f"prod-{key_owner}-data-key"],
                },
            ),
        ]
    )


def test_a_role_that_can_use_another_services_table_key_is_refused() -> None:
    assert run_stack("dynamodb-own-table-only", _key_grant("user-service", "user-service")) == []
    assert [
        m
        for m, _ in run_stack(
            "dynamodb-own-table-only", _key_grant("order-service", "user-service")
        )
    ] == [
        "the task role of prod-order-service reaches prod-user-service-data-key, another "
        "service's table key: give each service's role its own table and key only"
    ]


# --- 4. immutable tags carry the platform ---------------------------------------------------


def _flipped(architecture: str) -> str:
    return "X86_64" if architecture == "ARM64" else "ARM64"


def test_switching_architecture_pushes_a_tag_never_pushed_before(prod: Rendering) -> None:
    images = prod.of_type(IMAGE)
    assert images, "prod builds images"
    service = images[0].name.removeprefix("prod-").removesuffix("-image-image")
    task = prod.named(f"prod-{service}-task").inputs
    architecture = task["runtimePlatform"]["cpuArchitecture"]
    switched = render_with(
        "prod", [(f"services.{service}.cpuArchitecture", _flipped(architecture))]
    )
    before = prod.named(f"prod-{service}-image-image").inputs
    after = switched.named(f"prod-{service}-image-image").inputs
    assert before["platform"] != after["platform"]
    assert before["imageTag"] != after["imageTag"]
    for image in (before, after):
        assert image["imageTag"].startswith(image["platform"].removeprefix("linux/") + "-")


# --- 5. ARM64 never lands on Fargate Spot ---------------------------------------------------


def _spot_service(rendering: Rendering) -> str:
    for service in rendering.of_type("aws:ecs/service:Service"):
        providers = {s["capacityProvider"] for s in service.inputs["capacityProviderStrategies"]}
        if "FARGATE_SPOT" in providers:
            return str(service.inputs["name"])
    raise AssertionError("dev puts a service on Fargate Spot")


def test_an_arm64_service_runs_on_fargate_only_and_says_so(dev: Rendering) -> None:
    service = _spot_service(dev)
    rendering = render_with("dev", [(f"services.{service}.cpuArchitecture", "ARM64")])
    strategy = ecs_service(rendering, service).inputs["capacityProviderStrategies"]
    cluster_shares = ecs_service(dev, service).inputs["capacityProviderStrategies"]
    (on_demand,) = [s for s in cluster_shares if s["capacityProvider"] == "FARGATE"]
    assert strategy == [on_demand]
    (warning,) = [
        w for w in rendering.warnings if w.startswith(f"services.{service}.cpuArchitecture")
    ]
    assert warning == (
        f'services.{service}.cpuArchitecture: "ARM64" does not run on Fargate Spot (AWS: "Linux '
        "tasks with the ARM64 architecture don't support the Fargate Spot capacity provider\"), "
        f"so {service} runs on FARGATE only, at the on-demand price, whatever "
        "cluster.capacityProviders[1] (FARGATE_SPOT) asks (allowed: ARM64 on FARGATE, or X86_64 "
        "to use Spot); fix: pulumi config set --path "
        f"'services.{service}.cpuArchitecture' X86_64"
    )
    # The other services keep the cluster's Spot share, and nothing is priced as ARM64 Spot.
    others = [
        s for s in rendering.of_type("aws:ecs/service:Service") if s.inputs["name"] != service
    ]
    assert all(s.inputs["capacityProviderStrategies"] == cluster_shares for s in others)
    lines = [line for line in cost.estimate(rendering).lines if line.resource == service]
    assert lines and all("Spot" not in line.item and "ARM64" in line.item for line in lines)


# --- 6. a canary judged per target group ----------------------------------------------------


def _routed_traffic_shifting_alarm(prod: Rendering) -> tuple[str, dict[str, Any]]:
    for alarm in prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        queries = alarm.inputs.get("metricQueries") or []
        groups = {
            q["metric"]["dimensions"].get("TargetGroup")
            for q in queries
            if "metric" in q and q["metric"]["metricName"] == "RequestCount"
        } - {None}
        if alarm.name.endswith("-alarm-5xx-rate") and len(groups) == 2:
            return alarm.name, alarm.inputs
    raise AssertionError("prod releases a routed service with traffic shifting")


def _ids(queries: list[dict[str, Any]], metric: str, per_group: bool) -> list[str]:
    return [
        q["id"]
        for q in queries
        if "metric" in q
        and q["metric"]["metricName"] == metric
        and ("TargetGroup" in q["metric"]["dimensions"]) == per_group
    ]


@pytest.mark.parametrize(
    ("case", "fires"),
    [
        ("healthy", False),
        ("canary fails 40% of its 10%", True),
        ("canary tasks crash: the load balancer answers 502", True),
        ("main group fails 4%", False),
    ],
)
def test_a_diluted_canary_trips_the_5xx_alarm(prod: Rendering, case: str, fires: bool) -> None:
    name, alarm = _routed_traffic_shifting_alarm(prod)
    queries = alarm["metricQueries"]
    (main_errors, canary_errors) = _ids(queries, "HTTPCode_Target_5XX_Count", True)
    (main_requests, canary_requests) = _ids(queries, "RequestCount", True)
    (elb_errors,) = _ids(queries, "HTTPCode_ELB_5XX_Count", False)
    (elb_requests,) = _ids(queries, "RequestCount", False)
    main, canary = 900.0, 100.0
    metrics: dict[str, float | None] = {
        main_requests: main,
        canary_requests: canary,
        elb_requests: main + canary,
        main_errors: None,
        canary_errors: None,
        elb_errors: None,
    }
    if case == "canary fails 40% of its 10%":
        metrics[canary_errors] = 40.0
    if case == "canary tasks crash: the load balancer answers 502":
        metrics.update({canary_requests: None, elb_requests: main, elb_errors: canary})
    if case == "main group fails 4%":
        metrics[main_errors] = 36.0
    value = alarm_value(queries, metrics)
    assert value is not None
    assert (value >= alarm["threshold"]) is fires, f"{name}: {case} -> {value}%"


# --- 10. alarms that reach nobody -----------------------------------------------------------


def test_production_without_alert_addresses_says_its_alarms_reach_nobody(prod: Rendering) -> None:
    emails = json.loads(prod.config.get("microservices:alerts", "{}")).get("emails")
    warning = (
        "alerts.emails: is empty in production: the alarms notify a topic nobody subscribes to, "
        "so they act only through the release rollbacks they trigger (allowed: addresses that "
        "confirm AWS's subscription email); fix: pulumi config set --path 'alerts.emails[0]' "
        "'ops@<your-domain>'"
    )
    if emails:
        assert warning not in prod.warnings
        return
    assert warning in prod.warnings
    told = render_with("prod", [("alerts.emails[0]", "ops@example.com")])
    assert warning not in told.warnings
