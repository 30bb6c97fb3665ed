"""Alarms, notifications and releases, on the rendered stacks: what watches each service, what
rolls a release back, and how a traffic-shifting release is wired."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.observability.alarms import EVALUATION_PERIODS, PERIOD_SECONDS
from config.settings import ALARM_DEFAULTS
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering
from offline.render.stackfile import config_rm_path, config_set_path
from services import CATALOG
from tests.conftest import ecs_service, render_document, render_with

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms_of(rendering: Rendering, service: str) -> dict[str, RecordedResource]:
    prefix = f"{rendering.stack}-{service}-alarm-"
    return {
        r.name.removeprefix(prefix): r
        for r in rendering.of_type(ALARM)
        if r.name.startswith(prefix)
    }


def service_config(stack: str, service: str) -> dict[str, Any]:
    return (environment_document(stack).get("microservices:services") or {}).get(service) or {}


def minimum_tasks(stack: str, service: str) -> int:
    config = service_config(stack, service)
    band = config.get("autoscaling")
    return band["minCount"] if band else config.get("desiredCount", 1)


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_every_prod_service_is_watched_and_rolls_back(prod: Rendering, service: str) -> None:
    alarms = alarms_of(prod, service)
    routed = bool(CATALOG[service].routes)
    expected = {"cpu-high", "memory-high", "running-tasks-low"}
    if routed:
        expected |= {"5xx-rate", "unhealthy-hosts", "latency-p99"}
    assert set(alarms) == expected
    release = {"5xx-rate", "unhealthy-hosts", "latency-p99"} if routed else {"running-tasks-low"}
    inputs = ecs_service(prod, service).inputs
    assert sorted(inputs["alarms"]["alarmNames"]) == sorted(
        alarms[name].inputs["name"] for name in release
    )
    assert (inputs["alarms"]["enable"], inputs["alarms"]["rollback"]) == (True, True)
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    for name, alarm in alarms.items():
        assert alarm.inputs["name"] == f"microservices-prod-{service}-{name}"
        assert alarm.inputs["alarmActions"] == ["${prod-alerts-topic.arn}"]
        assert alarm.inputs["okActions"] == ["${prod-alerts-topic.arn}"]
        assert alarm.inputs["evaluationPeriods"] == EVALUATION_PERIODS
        assert alarm.inputs["datapointsToAlarm"] == EVALUATION_PERIODS
        # Alarm names are unique in the account and region.
        assert alarm.delete_before_replace


def test_alarm_metrics_are_awss(prod: Rendering) -> None:
    defaults = ALARM_DEFAULTS["production"]
    service = {"ClusterName": "microservices-prod", "ServiceName": "order-service"}
    alarms = alarms_of(prod, "order-service")
    cpu = alarms["cpu-high"].inputs
    assert (cpu["namespace"], cpu["metricName"], cpu["statistic"], cpu["period"]) == (
        "AWS/ECS",
        "CPUUtilization",
        "Average",
        PERIOD_SECONDS,
    )
    assert cpu["dimensions"] == service
    assert cpu["threshold"] == defaults.cpu_percent
    memory = alarms["memory-high"].inputs
    assert (memory["metricName"], memory["threshold"]) == (
        "MemoryUtilization",
        defaults.memory_percent,
    )
    running = alarms["running-tasks-low"].inputs
    assert (running["namespace"], running["metricName"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
    )
    assert running["comparisonOperator"] == "LessThanThreshold"
    assert running["threshold"] == minimum_tasks("prod", "order-service")
    assert running["treatMissingData"] == "breaching"


def test_routed_alarms_read_both_target_groups_of_a_canary(prod: Rendering) -> None:
    alarms = alarms_of(prod, "api-gateway")
    defaults = ALARM_DEFAULTS["production"]
    groups = ["${prod-api-gateway-tg.arnSuffix}", "${prod-api-gateway-alt.arnSuffix}"]
    rate = alarms["5xx-rate"].inputs
    metrics = {q["id"]: q["metric"] for q in rate["metricQueries"] if "metric" in q}
    per_group = {k: m for k, m in metrics.items() if "TargetGroup" in m["dimensions"]}
    assert {(m["metricName"], m["dimensions"]["TargetGroup"]) for m in per_group.values()} == {
        (metric, group)
        for metric in ("HTTPCode_Target_5XX_Count", "RequestCount")
        for group in groups
    }
    # The load balancer's own 5xx, which AWS reports for the whole load balancer only.
    assert sorted(
        (m["metricName"], m["dimensions"]) for k, m in metrics.items() if k not in per_group
    ) == [
        ("HTTPCode_ELB_5XX_Count", {"LoadBalancer": "${prod-ingress-alb.arnSuffix}"}),
        ("RequestCount", {"LoadBalancer": "${prod-ingress-alb.arnSuffix}"}),
    ]
    assert all(
        m["dimensions"]["LoadBalancer"] == "${prod-ingress-alb.arnSuffix}" for m in metrics.values()
    )
    assert all(
        m["stat"] == "Sum" and m["namespace"] == "AWS/ApplicationELB" for m in metrics.values()
    )
    (returned,) = [q for q in rate["metricQueries"] if q.get("returnData")]
    assert returned["expression"] == "MAX([rate0, rate1, elbrate])"
    assert rate["threshold"] == defaults.http5xx_percent
    assert rate["treatMissingData"] == "notBreaching"
    latency = alarms["latency-p99"].inputs
    stats = {q["metric"]["stat"] for q in latency["metricQueries"] if "metric" in q}
    assert stats == {"p99"}
    assert latency["threshold"] == defaults.latency_p99_ms / 1000  # TargetResponseTime: seconds
    unhealthy = alarms["unhealthy-hosts"].inputs
    names = {q["metric"]["metricName"] for q in unhealthy["metricQueries"] if "metric" in q}
    assert names == {"UnHealthyHostCount"}
    assert unhealthy["threshold"] == defaults.unhealthy_hosts


def test_thresholds_come_from_config() -> None:
    rendering = render_with(
        "prod",
        [
            ("services.api-gateway.alarms.latencyP99Ms", "800"),
            ("services.api-gateway.alarms.http5xxPercent", "2.5"),
            ("services.order-service.alarms.cpuPercent", "70"),
        ],
    )
    gateway = alarms_of(rendering, "api-gateway")
    assert gateway["latency-p99"].inputs["threshold"] == 0.8
    assert gateway["5xx-rate"].inputs["threshold"] == 2.5
    assert alarms_of(rendering, "order-service")["cpu-high"].inputs["threshold"] == 70


def test_rollback_can_be_switched_off_with_a_warning_in_production() -> None:
    rendering = render_with("prod", [("services.order-service.alarms.rollback", "false")])
    # Sent switched off: a block left out would keep ECS rolling back.
    sent = ecs_service(rendering, "order-service").inputs["alarms"]
    assert (sent["enable"], sent["rollback"]) == (False, False)
    # Still watched and notified.
    assert alarms_of(rendering, "order-service")
    assert any(
        w.startswith("services.order-service.alarms.rollback: false in production")
        for w in rendering.warnings
    )


def test_dev_notifies_without_rolling_back(dev: Rendering) -> None:
    for service in CATALOG:
        assert alarms_of(dev, service)
        inputs = ecs_service(dev, service).inputs
        assert (inputs["alarms"]["enable"], inputs["alarms"]["rollback"]) == (False, False)
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert inputs["deploymentConfiguration"] == {"strategy": "ROLLING"}


def test_no_running_task_alarm_without_container_insights() -> None:
    rendering = render_with("prod", [("cluster.containerInsights", "disabled")])
    assert "running-tasks-low" not in alarms_of(rendering, "order-service")
    # Without a route its release alarm was the running-task one: nothing to roll back on, so
    # the block names its other alarms, switched off.
    sent = ecs_service(rendering, "order-service").inputs["alarms"]
    assert (sent["enable"], sent["rollback"]) == (False, False)
    assert sorted(sent["alarmNames"]) == sorted(
        a.inputs["name"] for a in alarms_of(rendering, "order-service").values()
    )
    assert any(w.startswith("cluster.containerInsights:") for w in rendering.warnings)


# --- notifications and the dashboard -----------------------------------------------------------


def test_prod_topic_is_encrypted_with_a_key_cloudwatch_may_use(prod: Rendering) -> None:
    topic = prod.named("prod-alerts-topic").inputs
    assert topic["kmsMasterKeyId"] == "${prod-alerts-key.arn}"
    policy = json.loads(prod.named("prod-alerts-key").inputs["policy"])
    (cloudwatch,) = [s for s in policy["Statement"] if s["Sid"] == "CloudWatchPublishesAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert prod.named("prod-alerts-key").inputs["enableKeyRotation"] is True


def test_dev_topic_uses_no_key_and_emails_subscribe(dev: Rendering) -> None:
    assert "kmsMasterKeyId" not in dev.named("dev-alerts-topic").inputs
    rendering = render_with(
        "dev", [("alerts.emails[0]", "ops@example.com"), ("alerts.emails[1]", "dev@example.com")]
    )
    subscriptions = [
        s
        for s in rendering.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["topic"] == "${dev-alerts-topic.arn}"
    ]
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == [
        "dev@example.com",
        "ops@example.com",
    ]
    assert {(s.inputs["protocol"], s.inputs["topic"]) for s in subscriptions} == {
        ("email", "${dev-alerts-topic.arn}")
    }


def test_dashboard_has_a_row_per_service(prod: Rendering) -> None:
    dashboard = prod.named("prod-dashboard")
    assert dashboard.inputs["dashboardName"] == "microservices-prod"
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for service in CATALOG:
        assert [t for t in titles if t.startswith(f"{service}:")] == [
            f"{service}: CPU %",
            f"{service}: memory %",
            f"{service}: running tasks",
        ]
    assert [t for t in titles if t.startswith("load balancer")] == [
        "load balancer: requests",
        "load balancer: 5xx",
        "load balancer: target response time p99 (s)",
    ]


# --- releases ------------------------------------------------------------------------------------


def test_prods_gateway_releases_by_canary(prod: Rendering) -> None:
    config = service_config("prod", "api-gateway")["deployment"]
    inputs = ecs_service(prod, "api-gateway").inputs
    assert inputs["deploymentController"] == {"type": "ECS"}
    assert inputs["deploymentConfiguration"] == {
        "strategy": "CANARY",
        "bakeTimeInMinutes": str(config["bakeTimeMinutes"]),
        "canaryConfiguration": {
            "canaryPercent": config["canaryPercent"],
            "canaryBakeTimeInMinutes": "10",  # ECS's default canary bake
        },
    }
    (attachment,) = inputs["loadBalancers"]
    assert attachment["advancedConfiguration"] == {
        "alternateTargetGroupArn": "${prod-api-gateway-alt.arn}",
        "productionListenerRule": "${prod-api-gateway-rule-50000.arn}",
        "roleArn": "${prod-api-gateway-infrastructure-role.arn}",
    }
    service = ecs_service(prod, "api-gateway")
    attachment_resource = prod.named("prod-api-gateway-infrastructure-policy")
    assert attachment_resource.inputs["policyArn"] == (
        "arn:${aws.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    )
    assert attachment_resource.urn in service.dependencies
    role = json.loads(prod.named("prod-api-gateway-infrastructure-role").inputs["assumeRolePolicy"])
    assert role["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}


def test_routed_endpoints_are_ready_for_any_strategy(prod: Rendering) -> None:
    for service, spec in CATALOG.items():
        for route in spec.routes:
            rule = prod.named(f"prod-{service}-rule-{route.priority}")
            assert rule.inputs["actions"] == [
                {
                    "forward": {
                        "targetGroups": [
                            {"arn": f"${{prod-{service}-tg.arn}}", "weight": 100},
                            {"arn": f"${{prod-{service}-alt.arn}}", "weight": 0},
                        ]
                    },
                    "type": "forward",
                }
            ]
            # ECS owns the weights once a release has moved them.
            assert rule.ignore_changes == ("actions",)
        if spec.routes:
            primary = prod.named(f"prod-{service}-tg").inputs
            alternate = prod.named(f"prod-{service}-alt").inputs
            assert primary == alternate


def test_a_rolling_service_gets_no_traffic_shifting(prod: Rendering) -> None:
    inputs = ecs_service(prod, "order-service").inputs
    # Said explicitly: a left-out block would keep whatever was deployed.
    assert inputs["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert inputs["deploymentController"] == {"type": "ECS"}
    assert not [r for r in prod.resources if r.name == "prod-order-service-infrastructure-role"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("blueGreen", {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}),
        (
            "linear",
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": "5",
                "linearConfiguration": {"stepPercent": 10, "stepBakeTimeInMinutes": "6"},
            },
        ),
    ],
)
def test_other_strategies_take_ecss_defaults(strategy: str, expected: dict[str, Any]) -> None:
    path = "services.api-gateway.deployment.strategy"
    # dev's gateway scales on requests per target, which a traffic-shifting release refuses.
    refused = render_with("dev", [(path, strategy)], check=False)
    assert "services.api-gateway.autoscaling.requestsPerTarget" in str(refused.error)
    document = config_rm_path(
        environment_document("dev"), "services.api-gateway.autoscaling.requestsPerTarget"
    )
    rendering = render_document("dev", config_set_path(document, path, strategy))
    assert ecs_service(rendering, "api-gateway").inputs["deploymentConfiguration"] == expected
