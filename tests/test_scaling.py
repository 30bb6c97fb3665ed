"""Scaling by config alone: `pulumi config set --path ...` then `pulumi up`."""

from __future__ import annotations

import json

import pytest

from offline.change import PropertyChange, diff
from offline.render.environments import environment_document
from offline.render.harness import Rendering
from offline.render.stackfile import config_rm_path, config_set_path
from tests.conftest import ecs_service, render_document, render_with

# (service, its `autoscaling` block) for each service prod's stack file autoscales.
PROD_BANDS = {
    name: service["autoscaling"]
    for name, service in environment_document("prod")["microservices:services"].items()
    if "autoscaling" in (service or {})
}


def test_max_count_change_touches_only_the_scalable_target(prod: Rendering) -> None:
    changed = render_with("prod", [("services.order-service.autoscaling.maxCount", "12")])
    result = diff(prod, changed)
    assert not result.added and not result.removed
    assert [(r.name, changes) for r, changes in result.changed] == [
        ("prod-order-service-scaling", (PropertyChange(path="maxCapacity", old=10, new=12),))
    ]


def test_dev_max_count_to_ten(dev: Rendering) -> None:
    changed = render_with("dev", [("services.order-service.autoscaling.maxCount", "10")])
    result = diff(dev, changed)
    assert [(r.name, changes) for r, changes in result.changed] == [
        ("dev-order-service-scaling", (PropertyChange(path="maxCapacity", old=3, new=10),))
    ]
    assert not result.added and not result.removed


def test_autoscaled_services_leave_desired_count_to_the_scaler(prod: Rendering) -> None:
    assert PROD_BANDS, "prod autoscales no service: nothing to check"
    for name in PROD_BANDS:
        service = ecs_service(prod, name)
        assert service.ignore_changes == ("desiredCount",)
        target = prod.named(f"prod-{name}-scaling")
        assert target.inputs["resourceId"] == f"service/microservices-prod/{name}"
        assert service.urn in target.dependencies
        assert target.inputs["scalableDimension"] == "ecs:service:DesiredCount"
        assert target.inputs["serviceNamespace"] == "ecs"


def test_desired_count_change_is_ignored_when_autoscaled(dev: Rendering) -> None:
    changed = render_with("dev", [("services.user-service.desiredCount", "2")])
    result = diff(dev, changed)
    ignored = "ignored: Pulumi keeps the deployed value"
    assert [(r.name, changes) for r, changes in result.changed] == [
        (
            "dev-user-service-ecs",
            (PropertyChange(path="desiredCount", old=1, new=2, kind="ignored", note=ignored),),
        )
    ]
    # The engine ignores that input: a `pulumi up` never undoes the scaler's count, and the
    # diff counts nothing to change.
    assert ecs_service(changed, "user-service").ignore_changes == ("desiredCount",)
    assert result.counts["change"] == 0


def test_fixed_count_without_autoscaling(dev: Rendering) -> None:
    document = config_rm_path(environment_document("dev"), "services.user-service.autoscaling")
    document = config_set_path(document, "services.user-service.desiredCount", "3")
    fixed = render_document("dev", document)
    service = ecs_service(fixed, "user-service")
    assert service.inputs["desiredCount"] == 3
    assert service.ignore_changes == ()  # Pulumi keeps exactly this count
    result = diff(dev, fixed)
    assert [r.name for r in result.removed] == [
        "dev-user-service-cpu-scaling",
        "dev-user-service-scaling",
    ]
    assert [(r.name, changes) for r, changes in result.changed] == [
        (
            # The running-task alarm follows the count it must not fall below.
            "dev-user-service-alarm-running-tasks-low",
            (
                PropertyChange(
                    path="alarmDescription",
                    old="user-service: fewer than 1 tasks running",
                    new="user-service: fewer than 3 tasks running",
                ),
                PropertyChange(path="threshold", old=1, new=3),
            ),
        ),
        (
            "dev-user-service-ecs",
            (
                # Pulumi now owns the count again.
                PropertyChange(path="(options).ignoreChanges", old=["desiredCount"], new=[]),
                PropertyChange(path="desiredCount", old=1, new=3),
            ),
        ),
    ]


def test_scaling_policies(prod: Rendering, dev: Rendering) -> None:
    policies = {
        r.name: r.inputs["targetTrackingScalingPolicyConfiguration"]
        for r in prod.of_type("aws:appautoscaling/policy:Policy")
    }
    # CPU for every autoscaled service; memory and requests where its band sets a target.
    optional = {"memory": "memoryTarget", "requests": "requestsPerTarget"}
    assert set(policies) == {
        f"prod-{name}-{metric}-scaling"
        for name, band in PROD_BANDS.items()
        for metric in ("cpu", *(metric for metric, key in optional.items() if key in band))
    }
    for configuration in policies.values():
        assert (configuration["scaleOutCooldown"], configuration["scaleInCooldown"]) == (60, 300)
    assert policies["prod-order-service-memory-scaling"]["targetValue"] == 75
    dev_policies = {
        r.name: r.inputs["targetTrackingScalingPolicyConfiguration"]
        for r in dev.of_type("aws:appautoscaling/policy:Policy")
    }
    requests = dev_policies["dev-api-gateway-requests-scaling"]
    assert requests["targetValue"] == 500
    assert requests["predefinedMetricSpecification"] == {
        "predefinedMetricType": "ALBRequestCountPerTarget",
        "resourceLabel": "${dev-ingress-alb.arnSuffix}/${dev-api-gateway-tg.arnSuffix}",
    }


def test_cpu_and_memory_change_only_the_task_size(dev: Rendering) -> None:
    changed = render_with(
        "dev",
        [("services.user-service.cpu", "512"), ("services.user-service.memory", "2048")],
    )
    result = diff(dev, changed)
    assert not result.added and not result.removed
    assert [(r.name, changes) for r, changes in result.changed] == [
        (
            "dev-user-service-task",
            (
                PropertyChange(path="cpu", old="256", new="512"),
                PropertyChange(path="memory", old="512", new="2048"),
            ),
        )
    ]


def test_new_environment_variable_changes_only_the_container(dev: Rendering) -> None:
    changed = render_with("dev", [("services.user-service.environment.FEATURE_X", "true")])
    result = diff(dev, changed)
    assert not result.added and not result.removed
    [(resource, changes)] = result.changed
    assert resource.name == "dev-user-service-task"
    containers = json.loads(dev.named("dev-user-service-task").inputs["containerDefinitions"])
    index = next(i for i, c in enumerate(containers) if c["essential"])
    before = containers[index]["environment"]
    assert [c.path for c in changes] == [f"containerDefinitions[{index}].environment"]
    assert changes[0].old == before
    assert changes[0].new == sorted(
        [*before, {"name": "FEATURE_X", "value": "true"}], key=lambda v: v["name"]
    )


def test_config_set_path_writes_as_the_cli_does() -> None:
    document = config_set_path({}, "services.order-service.autoscaling.maxCount", "10")
    document = config_set_path(document, "loadBalancer.deletionProtection", "true")
    document = config_set_path(document, "loadBalancer.ingressCidrs[0]", "10.0.0.0/8")
    document = config_set_path(document, "loadBalancer.ingressCidrs[1]", "192.168.0.0/16")
    document = config_set_path(document, 'services.order-service.environment["A.B"]', "x")
    document = config_set_path(document, "aws:region", "eu-west-1")
    assert document == {
        "microservices:services": {
            "order-service": {"autoscaling": {"maxCount": 10}, "environment": {"A.B": "x"}}
        },
        "microservices:loadBalancer": {
            "deletionProtection": True,
            "ingressCidrs": ["10.0.0.0/8", "192.168.0.0/16"],
        },
        "aws:region": "eu-west-1",
    }
    with pytest.raises(ValueError, match="index 5 is past the end of a list of 2"):
        config_set_path(document, "loadBalancer.ingressCidrs[5]", "1.2.3.4/32")
    assert config_rm_path(document, "services.order-service.autoscaling") == {
        **document,
        "microservices:services": {"order-service": {"environment": {"A.B": "x"}}},
    }
