"""The config model: both stack files load; bad input gets exact, actionable messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import naming
from config import (
    ConfigError,
    StackSettings,
    callers_first,
    load_settings,
)
from offline.render.environments import environment_document
from offline.render.harness import Rendering, render
from offline.render.stackfile import config_rm_path
from services import CATALOG, RouteSpec, ServiceSpec
from tests.conftest import render_document


def raw_config(stack: str) -> dict[str, Any]:
    """The `microservices:*` keys of a stack file, without the namespace."""
    return {
        key.split(":", 1)[1]: value
        for key, value in environment_document(stack).items()
        if key.startswith("microservices:")
    }


def load(raw: dict[str, Any], **kwargs: Any) -> StackSettings:
    return load_settings(raw, stack="dev", region="us-east-1", **kwargs)


def problems(raw: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(raw, **kwargs)
    return [str(issue) for issue in caught.value.issues]


def test_dev_stack_file_loads() -> None:
    settings = load_settings(raw_config("dev"), stack="dev", region="us-east-1")
    assert settings.environment == "development"
    assert settings.namespace == "dev.internal"
    assert settings.load_balancer.https is False
    assert [p.provider for p in settings.cluster.capacity_providers] == ["FARGATE", "FARGATE_SPOT"]
    assert settings.service("order-service").environment["LOG_LEVEL"] == "debug"


def test_prod_stack_file_loads() -> None:
    settings = load_settings(raw_config("prod"), stack="prod", region="us-east-1")
    assert settings.production
    assert settings.network.availability_zones == 3
    assert settings.network.nat_gateways == "perAz"
    assert settings.load_balancer.https
    assert settings.logs.retention_days == 365
    bands = {
        s.name: (s.autoscaling.min_count, s.desired_count, s.autoscaling.max_count)
        for s in settings.services
        if s.autoscaling is not None
    }
    # Exactly the bands and counts the stack file sets.
    assert bands == {
        name: (band["minCount"], service.get("desiredCount", 1), band["maxCount"])
        for name, service in raw_config("prod")["services"].items()
        if (band := service.get("autoscaling")) is not None
    }
    assert bands["order-service"] == (3, 3, 10)


def test_defaults_fill_an_empty_config() -> None:
    settings = load({})
    assert settings.network.cidr_block == "10.20.0.0/16"
    assert settings.deployment.deregistration_delay == 5
    assert settings.record_ttl == 10
    assert all(s.cpu == 256 and s.memory == 512 for s in settings.services)
    assert all(s.autoscaling is None and s.desired_count == 1 for s in settings.services)


def test_services_are_ordered_callers_first() -> None:
    names = [s.name for s in load({}).services]
    assert sorted(names) == sorted(CATALOG)
    for caller, spec in CATALOG.items():
        for callee in spec.calls:
            assert names.index(caller) < names.index(callee), (caller, callee, names)


def test_callers_are_derived_from_calls() -> None:
    settings = load({})
    assert any(settings.service(name).callers for name in CATALOG), "no service is called"
    for name in CATALOG:
        # The inverse of the specs' calls, sorted by name.
        expected = tuple(sorted(caller for caller, s in CATALOG.items() if name in s.calls))
        assert settings.service(name).callers == expected, name


def test_stack_environment_merges_over_spec_and_urls() -> None:
    settings = load({"services": {"order-service": {"environment": {"PORT": 8080, "DEBUG": True}}}})
    environment = settings.service("order-service").environment
    assert environment["USER_SERVICE_URL"] == "http://users.dev.internal:8080"
    callees = {
        CATALOG[callee].url_variable: (
            f"http://{CATALOG[callee].discovery_name}.dev.internal:{CATALOG[callee].container_port}"
        )
        for callee in CATALOG["order-service"].calls
    }
    # `pulumi config set --path` stores numbers and booleans typed; env values are strings.
    spec_environment = dict(CATALOG["order-service"].environment)
    assert environment == {**spec_environment, **callees, "PORT": "8080", "DEBUG": "true"}


# --- exact messages -------------------------------------------------------------------------


def test_unknown_key() -> None:
    assert problems({"services": {"order-service": {"memroy": 512}}}) == [
        "services.order-service.memroy: unknown key (allowed: alarms, autoscaling, cpu, "
        "cpuArchitecture, deployment, desiredCount, environment, image, imagePreparesTmp, "
        "memory, perRequestTimeoutSeconds, secrets, secretsKmsKeyArns, stopTimeout, user; did "
        "you mean 'memory'?); fix: pulumi config rm --path 'services.order-service.memroy'"
    ]


def test_unknown_top_level_key() -> None:
    assert problems({"netwrok": {"availabilityZones": 3}}) == [
        "netwrok: unknown key (allowed: alerts, cluster, cost, deployment, discovery, "
        "environment, loadBalancer, logs, network, observability, platform, serviceStacks, "
        "services, teardown; did you mean "
        "'network'?); "
        "fix: pulumi config rm --path 'netwrok'"
    ]


def test_unknown_service() -> None:
    assert problems({"services": {"ordr-service": {"cpu": 256}}}) == [
        f"services.ordr-service: unknown service (allowed: {', '.join(sorted(CATALOG))}; "
        "did you mean 'order-service'?); fix: pulumi config rm --path 'services.ordr-service'"
    ]


def test_memory_not_valid_with_cpu() -> None:
    assert problems({"services": {"order-service": {"cpu": 256, "memory": 300}}}) == [
        "services.order-service.memory: 300 is not valid with cpu 256 "
        "(allowed: 512, 1024, 2048); "
        "fix: pulumi config set --path 'services.order-service.memory' 512"
    ]


def test_cpu_not_a_fargate_size() -> None:
    assert problems({"services": {"user-service": {"cpu": 300}}}) == [
        "services.user-service.cpu: 300 is not a Fargate cpu size "
        "(allowed: 256, 512, 1024, 2048, 4096, 8192, 16384); "
        "fix: pulumi config set --path 'services.user-service.cpu' 512"
    ]


def test_large_memory_range_is_summarised() -> None:
    assert problems({"services": {"user-service": {"cpu": 4096, "memory": 4096}}}) == [
        "services.user-service.memory: 4096 is not valid with cpu 4096 "
        "(allowed: 8192..30720 in steps of 1024); "
        "fix: pulumi config set --path 'services.user-service.memory' 8192"
    ]


def test_band_out_of_order() -> None:
    raw = {"services": {"order-service": {"autoscaling": {"minCount": 5, "maxCount": 2}}}}
    assert problems(raw) == [
        "services.order-service.autoscaling.minCount: 5 is greater than maxCount 2 "
        "(allowed: minCount <= desiredCount <= maxCount); "
        "fix: pulumi config set --path 'services.order-service.autoscaling.minCount' 2"
    ]


def test_desired_count_outside_band_is_clamped_with_a_warning() -> None:
    raw = {
        "services": {
            "order-service": {"desiredCount": 7, "autoscaling": {"minCount": 1, "maxCount": 4}}
        }
    }
    settings = load(raw)
    assert settings.service("order-service").desired_count == 4
    assert settings.warnings == (
        "services.order-service.desiredCount: 7 is outside the autoscaling band 1..4; the "
        "service starts with 4 tasks, as Application Auto Scaling would set it (allowed: "
        "minCount <= desiredCount <= maxCount); "
        "fix: pulumi config set --path 'services.order-service.desiredCount' 4",
    )


def test_enum_value() -> None:
    assert problems({"network": {"natGateways": "one"}}) == [
        'network.natGateways: "one" is not allowed (allowed: single, perAz); '
        "fix: pulumi config set --path 'network.natGateways' single"
    ]


def test_number_out_of_range() -> None:
    assert problems({"network": {"availabilityZones": 1}}) == [
        "network.availabilityZones: 1 is out of range (allowed: 2..6); "
        "fix: pulumi config set --path 'network.availabilityZones' 2"
    ]


def test_wrong_type() -> None:
    assert problems({"deployment": {"minimumHealthyPercent": "abc"}}) == [
        'deployment.minimumHealthyPercent: "abc" is not a whole number '
        "(allowed: a whole number 0..100); "
        "fix: pulumi config set --path 'deployment.minimumHealthyPercent' 50"
    ]


def test_log_retention_value() -> None:
    assert problems({"logs": {"retentionDays": 10}}) == [
        "logs.retentionDays: 10 is not a CloudWatch Logs retention period (allowed: 1, 3, 5, 7, "
        "14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, "
        "3653); fix: pulumi config set --path 'logs.retentionDays' 14"
    ]


def test_capacity_provider_strategy_rules() -> None:
    raw = {
        "cluster": {
            "capacityProviders": [
                {"provider": "FARGATE", "base": 1, "weight": 0},
                {"provider": "FARGATE_SPOT", "base": 2, "weight": 0},
            ]
        }
    }
    assert problems(raw) == [
        "cluster.capacityProviders[1].base: 2 is a second base (allowed: only one capacity "
        "provider in a strategy may set base); "
        "fix: pulumi config set --path 'cluster.capacityProviders[1].base' 0",
        "cluster.capacityProviders[0].weight: 0 leaves every weight at 0 (allowed: at least one "
        "weight > 0); fix: pulumi config set --path 'cluster.capacityProviders[0].weight' 1",
    ]


def test_secret_must_be_an_arn() -> None:
    assert problems({"services": {"order-service": {"secrets": {"DB_PASSWORD": "hunter2"}}}}) == [
        'services.order-service.secrets.DB_PASSWORD: "hunter2" is not a Secrets Manager secret '
        "or SSM parameter ARN (allowed: arn:aws:secretsmanager:<region>:<account>:secret:<name> "
        "or arn:aws:ssm:<region>:<account>:parameter/<name>); "
        "fix: pulumi config set --path 'services.order-service.secrets.DB_PASSWORD' "
        "'arn:aws:secretsmanager:<region>:<account>:secret:<name>'"
    ]


def test_production_requires_a_certificate() -> None:
    assert problems({"environment": "production"}) == [
        "loadBalancer.certificateArn: is required in production: the ALB serves HTTPS only "
        "(allowed: an ACM certificate ARN in the stack's region); "
        "fix: pulumi config set --path 'loadBalancer.certificateArn' "
        "'arn:aws:acm:<region>:<account>:certificate/<id>'"
    ]


def test_requests_per_target_needs_a_route() -> None:
    raw = {
        "services": {
            "user-service": {
                "autoscaling": {"minCount": 1, "maxCount": 2, "requestsPerTarget": 100}
            }
        }
    }
    assert problems(raw) == [
        "services.user-service.autoscaling.requestsPerTarget: 100 needs a service behind the load "
        "balancer, and user-service has no routes (allowed: cpuTarget, memoryTarget); "
        "fix: pulumi config rm --path 'services.user-service.autoscaling.requestsPerTarget'"
    ]


def test_all_problems_are_reported_together() -> None:
    raw = {
        "netwrok": {},
        "services": {
            "order-service": {"cpu": 256, "memory": 300},
            "user-service": {"autoscaling": {"minCount": 5, "maxCount": 2}},
        },
    }
    found = problems(raw)
    assert [line.split(":")[0] for line in found] == [
        "netwrok",
        "services.order-service.memory",
        "services.user-service.autoscaling.minCount",
    ]


def test_error_text_has_a_header_and_one_line_per_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"logs": {"retentionDays": 10}, "network": {"natGateways": "one"}})
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid config for stack 'dev' (2 problems):"
    assert len(lines) == 3
    assert all(line.startswith("  ") and "; fix: pulumi config " in line for line in lines[1:])


def test_missing_band_bound() -> None:
    assert problems({"services": {"order-service": {"autoscaling": {"maxCount": 3}}}}) == [
        "services.order-service.autoscaling.minCount: is required (allowed: a whole number "
        ">= 0); fix: pulumi config set --path 'services.order-service.autoscaling.minCount' "
        "'<value>'"
    ]


def test_bad_namespace_suggests_the_stack_default() -> None:
    assert problems({"discovery": {"namespace": "Bad_Name.internal"}}) == [
        'discovery.namespace: "Bad_Name.internal" is not a valid DNS name (allowed: '
        "dot-separated labels of 1..63 characters of a-z, 0-9 and '-', not starting or ending "
        "with '-', 253 characters in all); "
        "fix: pulumi config set --path 'discovery.namespace' dev.internal"
    ]


def test_existing_vpc_ignores_nothing_silently() -> None:
    raw = {
        "network": {
            "vpcId": "vpc-0a1b2c3d4e5f60718",
            "publicSubnetIds": ["subnet-0a000001", "subnet-0a000002"],
            "privateSubnetIds": ["subnet-0b000001", "subnet-0b000002"],
            "natGateways": "perAz",
        }
    }
    assert problems(raw) == [
        "network.natGateways: has no effect with an existing VPC (allowed: vpcId, "
        "publicSubnetIds and privateSubnetIds alone); "
        "fix: pulumi config rm --path 'network.natGateways'"
    ]
    del raw["network"]["natGateways"]
    assert load(raw).network.vpc_id == "vpc-0a1b2c3d4e5f60718"


def test_own_image_needs_its_user() -> None:
    raw = {"services": {"user-service": {"image": "ghcr.io/acme/users:1.2.3"}}}
    assert problems(raw) == [
        "services.user-service.user: is required with an image other than the spec's "
        "(ghcr.io/acme/users:1.2.3): the spec's user belongs to its own image (allowed: the "
        "numeric uid the image runs as, non-root); "
        "fix: pulumi config set --path 'services.user-service.user' 10001"
    ]


def test_own_image_with_user_and_tmp_volume() -> None:
    # `pulumi config set --path ... 10001` stores a number.
    raw = {
        "services": {
            "user-service": {
                "image": "ghcr.io/acme/users:1.2.3",
                "user": 10001,
                "imagePreparesTmp": True,
            }
        }
    }
    service = load(raw).service("user-service")
    assert (service.image, service.user, service.prepare_tmp) == (
        "ghcr.io/acme/users:1.2.3",
        "10001",
        False,
    )
    # Without an image of its own, the spec's user and /tmp handling apply.
    default = load({}).service("user-service")
    spec = CATALOG["user-service"]
    assert (default.user, default.prepare_tmp) == (spec.user, not spec.image_prepares_tmp)


def test_root_user_is_refused() -> None:
    assert problems({"services": {"user-service": {"user": "0"}}}) == [
        'services.user-service.user: "0" runs the container as root (allowed: a non-root '
        "uid); fix: pulumi config set --path 'services.user-service.user' 10001"
    ]


def test_secret_config_is_refused_without_its_value() -> None:
    raw = {"services": {"order-service": {"environment": {"TOKEN": "s3cr3t"}}}}
    found = problems(raw, secret_keys=frozenset({"services"}))
    assert found == [
        "services: is stored as a secret, but nothing in this config may be secret: values "
        "reach the task definition in plain text (allowed: plain values; keep a secret in "
        "Secrets Manager or SSM and name its ARN under services.<name>.secrets); "
        "fix: pulumi config rm services, then set its keys again without --secret"
    ]


def test_missing_region() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, stack="dev", region=None)
    assert [str(i) for i in caught.value.issues] == [
        "aws:region: is not set (allowed: an AWS region, e.g. us-east-1); "
        "fix: pulumi config set aws:region us-east-1"
    ]


def test_nothing_is_registered_when_config_is_invalid() -> None:
    document = environment_document("dev")
    document["microservices:services"]["order-service"]["memory"] = 300
    rendering = render_document("dev", document, check=False)
    assert rendering.resources == []
    assert "services.order-service.memory: 300 is not valid with cpu 256" in str(rendering.error)


# --- rules over the catalog -----------------------------------------------------------------


def test_target_group_name_must_fit_after_auto_naming() -> None:
    long_name = "a-very-long-routed-service"
    catalog = {
        long_name: ServiceSpec(
            name=long_name,
            discovery_name="long",
            container_name="app",
            routes=(RouteSpec(priority=10, path_patterns=("/long/*",)),),
        )
    }
    # The longer of its two target groups (the alternate one, for traffic-shifting releases).
    assert problems({}, catalog=catalog) == [
        f"services.{long_name}: the target group name 'dev-{long_name}-alt' is longer than AWS "
        "allows once Pulumi adds its 8-character suffix (allowed: 32 characters); "
        f"fix: shorten the name of '{long_name}' in services/, or the stack's name"
    ]
    # 17 characters: the primary group fits exactly (24 + 8), the alternate one does not.
    just_over = "abcdefghijklmnopq"
    catalog = {
        just_over: ServiceSpec(
            name=just_over,
            discovery_name="long",
            container_name="app",
            routes=(RouteSpec(priority=10, path_patterns=("/long/*",)),),
        )
    }
    assert [issue.split(":")[0] for issue in problems({}, catalog=catalog)] == [
        f"services.{just_over}"
    ]


def test_calls_must_name_known_services_and_not_self() -> None:
    catalog = {
        "a": ServiceSpec(name="a", discovery_name="a", container_name="a", calls=("a", "b")),
    }
    assert problems({}, catalog=catalog) == [
        "services.a: calls itself (allowed: no other service); "
        "fix: edit the spec of 'a' in services/",
        "services.a: calls unknown service 'b' (allowed: no other service); "
        "fix: edit the spec of 'a' in services/",
    ]


def test_duplicate_listener_priority() -> None:
    route = (RouteSpec(priority=10, path_patterns=("/x/*",)),)
    catalog = {
        "a": ServiceSpec(name="a", discovery_name="a", container_name="a", routes=route),
        "b": ServiceSpec(name="b", discovery_name="b", container_name="b", routes=route),
    }
    assert problems({}, catalog=catalog) == [
        "services.b: route priority 10 is also used by 'a' (allowed: priorities unique per "
        "listener); fix: edit the spec of 'b' in services/"
    ]


def test_call_cycles_are_rejected() -> None:
    catalog = {
        "a": ServiceSpec(name="a", discovery_name="a", container_name="a", calls=("b",)),
        "b": ServiceSpec(name="b", discovery_name="b", container_name="b", calls=("a",)),
    }
    assert problems({}, catalog=catalog) == [
        "services.a: calls form a cycle a -> b -> a (allowed: calls without cycles, so that "
        "each callee's security group can admit its callers); fix: edit the specs in services/"
    ]


def test_callers_first_order() -> None:
    def spec(name: str, *calls: str) -> ServiceSpec:
        return ServiceSpec(name=name, discovery_name=name, container_name=name, calls=calls)

    catalog = {
        "users": spec("users"),
        "web": spec("web", "orders", "users"),
        "orders": spec("orders", "users"),
        "audit": spec("audit"),
    }
    # Services nobody calls first, then those whose callers are all placed; ties by name.
    assert callers_first(catalog) == ["audit", "web", "orders", "users"]


# --- the listener certificate -----------------------------------------------------------------

PLACEHOLDER = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
PLACEHOLDER_PROBLEM = (
    f'loadBalancer.certificateArn: "{PLACEHOLDER}" is the placeholder from the stack file; '
    "creating the HTTPS listener would fail (allowed: the ARN of your ACM certificate); "
    "fix: pulumi config set --path 'loadBalancer.certificateArn' "
    "'arn:aws:acm:us-east-1:<account>:certificate/<id>'"
)


def test_placeholder_certificate_passes_a_preview() -> None:
    assert load({"loadBalancer": {"certificateArn": PLACEHOLDER}}).warnings == ()


def test_placeholder_certificate_stops_a_deploy() -> None:
    raw = {"loadBalancer": {"certificateArn": PLACEHOLDER}}
    assert problems(raw, deploying=True) == [PLACEHOLDER_PROBLEM]


def test_prod_update_refuses_the_placeholder_before_registering_anything() -> None:
    rendering = render("prod", preview=False, check=False)
    assert rendering.resources == []
    assert PLACEHOLDER_PROBLEM in str(rendering.error)


def test_committed_stacks_have_no_warnings(dev: Rendering, prod: Rendering) -> None:
    for rendering in (dev, prod):
        assert rendering.warnings == (), (
            f"Pulumi.{rendering.stack}.yaml must produce no warnings; apply each warning's fix "
            "(a service new to the catalog may need sizing under microservices:services)"
        )


def test_certificate_from_another_region() -> None:
    arn = "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123"
    assert problems({"loadBalancer": {"certificateArn": arn}}) == [
        f'loadBalancer.certificateArn: "{arn}" is in eu-west-1, but an ALB can only use a '
        "certificate from its own region (allowed: a certificate in us-east-1); "
        "fix: pulumi config set --path 'loadBalancer.certificateArn' "
        "'arn:aws:acm:us-east-1:<account>:certificate/<id>'"
    ]


def test_real_certificate_is_accepted_silently() -> None:
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/1f2e3d4c-aaaa-bbbb-cccc-0123456789ab"
    assert load({"loadBalancer": {"certificateArn": arn}}).warnings == ()


def test_duplicate_ingress_cidr() -> None:
    raw = {"loadBalancer": {"ingressCidrs": ["10.0.0.0/8", "10.0.0.0/8"]}}
    assert problems(raw) == [
        'loadBalancer.ingressCidrs[1]: "10.0.0.0/8" is listed twice (allowed: each CIDR once); '
        "fix: pulumi config rm --path 'loadBalancer.ingressCidrs[1]'"
    ]


def test_vpc_block_must_hold_every_az() -> None:
    raw = {"network": {"cidrBlock": "10.20.0.0/18", "availabilityZones": 3}}
    assert problems(raw) == [
        'network.cidrBlock: "10.20.0.0/18" has a /18 mask, which cannot hold 3 availability '
        "zones of a private /20 and a public /24 subnet each (allowed: /16../17; VPCs can be /16 "
        "at the largest); "
        "fix: pulumi config set --path 'network.cidrBlock' 10.20.0.0/16"
    ]
    assert load({"network": {"cidrBlock": "10.20.0.0/18", "availabilityZones": 2}})


def _leaf_paths(value: Any, path: str) -> list[str]:
    """The values a config block sets. An empty map sets none: `services.<name>: {}` lists a
    service that runs on the defaults (as `make service` writes it), repeating no value."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaf_paths(item, f"{path}.{key}")]
    return [path]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_hold_only_what_differs(stack: str) -> None:
    settings = load_settings(raw_config(stack), stack=stack, region="us-east-1")
    document = environment_document(stack)
    for top, value in document.items():
        if not top.startswith("microservices:"):
            continue
        for path in _leaf_paths(value, top.split(":", 1)[1]):
            without = config_rm_path(document, path)
            raw = {
                k.split(":", 1)[1]: v for k, v in without.items() if k.startswith("microservices:")
            }
            try:
                reduced = load_settings(raw, stack=stack, region="us-east-1")
            except ConfigError:
                continue  # needed: the config is invalid without it
            assert reduced != settings, f"{stack}: {path} repeats the default"


def test_domain_name_must_be_a_domain() -> None:
    assert problems({"loadBalancer": {"domainName": "localhost"}}) == [
        'loadBalancer.domainName: "localhost" is not a domain name (allowed: dot-separated '
        "labels of 1..63 characters of a-z, 0-9 and '-', not starting or ending with '-', 253 "
        "characters in all); fix: pulumi config set --path 'loadBalancer.domainName' "
        "'api.<your-domain>'"
    ]


# --- rules over the catalog's size, and production warnings --------------------------------------


def test_security_group_rule_quota_for_many_callers() -> None:
    def catalog_with(callers: int) -> dict[str, ServiceSpec]:
        catalog = {"hub": ServiceSpec(name="hub", discovery_name="hub", container_name="hub")}
        for index in range(callers):
            name = f"caller-{index}"
            catalog[name] = ServiceSpec(
                name=name, discovery_name=name, container_name="app", calls=("hub",)
            )
        return catalog

    assert load({}, catalog=catalog_with(60))  # exactly the quota
    assert problems({}, catalog=catalog_with(61)) == [
        "services.hub: needs 61 inbound rules on its security group (AWS's default quota is 60 "
        "rules per direction per security group; it can be raised on request; allowed: at most "
        "60); fix: split the service's callers or callees, or raise the quota and the limit here"
    ]


def test_alb_rule_quota_and_route_patterns() -> None:
    catalog = {
        f"s{index}": ServiceSpec(
            name=f"s{index}",
            discovery_name=f"s{index}",
            container_name="app",
            routes=(RouteSpec(priority=index + 1, path_patterns=(f"/s{index}/*",)),),
        )
        for index in range(101)
    }
    found = problems({}, catalog=catalog)
    assert (
        "services: declare 101 listener rules (allowed: 100 rules per ALB, not counting "
        "default rules); fix: merge or drop routes in services/"
    ) in found
    assert (
        "services: put 101 services behind the ALB (allowed: 100 target groups per ALB); "
        "fix: drop routes in services/"
    ) in found
    bad_routes = {
        "a": ServiceSpec(
            name="a",
            discovery_name="a",
            container_name="a",
            routes=(
                RouteSpec(priority=1, path_patterns=("/x y",), host_patterns=("localhost",)),
                RouteSpec(priority=2, path_patterns=tuple(f"/{i}" for i in range(6))),
            ),
        )
    }
    assert problems({}, catalog=bad_routes) == [
        'services.a: path pattern "/x y" is not one an ALB accepts (allowed: up to 128 '
        "characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & * ?); fix: edit the spec of 'a' in "
        "services/",
        'services.a: host pattern "localhost" is not one an ALB accepts (allowed: up to 128 '
        "characters of A-Z a-z 0-9 - . * ?, with a '.' and only letters after the last one); "
        "fix: edit the spec of 'a' in services/",
        "services.a: route priority 2 has 6 patterns (allowed: at most 5 condition values per "
        "ALB listener rule); fix: edit the spec of 'a' in services/",
    ]


def test_variables_must_fit_a_task_definition() -> None:
    big = {f"VAR_{i}": "x" * 1000 for i in range(40)}
    found = problems({"services": {"order-service": {"environment": big}}})
    assert len(found) == 1
    assert found[0].startswith("services.order-service.environment: holds ")
    assert "ECS's 64 KiB limit on a task definition" in found[0]


def test_production_warnings() -> None:
    raw = {
        "environment": "production",
        "loadBalancer": {
            "certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/abc-123"
        },
        "cluster": {
            "capacityProviders": [
                {"provider": "FARGATE", "base": 1, "weight": 1},
                {"provider": "FARGATE_SPOT", "weight": 1},
            ]
        },
        "services": {
            # Every service on two tasks, but the gateway's band goes down to one.
            **{name: {"desiredCount": 2} for name in CATALOG},
            "api-gateway": {"desiredCount": 1, "autoscaling": {"minCount": 1, "maxCount": 3}},
        },
    }
    assert load(raw).warnings == (
        "services.api-gateway.autoscaling.minCount: 1 lets api-gateway run on a single task, "
        "which one AZ's outage or one task's failure takes down (allowed: any count; 2 or more "
        "spread tasks over AZs); fix: pulumi config set --path "
        "'services.api-gateway.autoscaling.minCount' 2",
        "cluster.capacityProviders[1]: FARGATE_SPOT in production: Spot tasks can be stopped at "
        "two minutes' notice when AWS needs the capacity back (allowed: FARGATE only, or Spot "
        "beside an on-demand base); fix: pulumi config rm --path 'cluster.capacityProviders[1]'",
    )


def test_production_requires_a_non_root_user() -> None:
    from services.spec import ServiceSpec as Spec

    catalog = {
        "root-app": Spec(name="root-app", discovery_name="app", container_name="app", user=None)
    }
    raw = {
        "environment": "production",
        "loadBalancer": {"certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/abc"},
        "services": {"root-app": {"desiredCount": 2}},
    }
    assert problems(raw, catalog=catalog) == [
        "services.root-app.user: is required in production: containers run as a non-root user "
        "(allowed: the numeric uid the image runs as); "
        "fix: pulumi config set --path 'services.root-app.user' 10001"
    ]
    assert load({"services": {"root-app": {}}}, catalog=catalog).service("root-app").user is None


def test_secrets_kms_keys_must_be_key_arns() -> None:
    raw = {"services": {"order-service": {"secretsKmsKeyArns": ["alias/secrets"]}}}
    assert problems(raw) == [
        'services.order-service.secretsKmsKeyArns[0]: "alias/secrets" is not a KMS key ARN '
        "(allowed: arn:aws:kms:<region>:<account>:key/<key-id>); fix: pulumi config set --path "
        "'services.order-service.secretsKmsKeyArns[0]' "
        "'arn:aws:kms:<region>:<account>:key/<key-id>'"
    ]


def test_task_permissions_must_name_their_actions() -> None:
    from services import PermissionSpec

    catalog = {
        "a": ServiceSpec(
            name="a",
            discovery_name="a",
            container_name="a",
            permissions=(PermissionSpec(actions=("s3:*",), resources=("*",)),),
        )
    }
    assert problems({}, catalog=catalog) == [
        'services.a: task permission ["s3:*"] on ["*"] is too broad or empty (allowed: named '
        "actions such as s3:GetObject, no `*` or `service:*`, on at least one resource); "
        "fix: edit the spec of 'a' in services/"
    ]


def test_a_stack_called_production_is_refused_as_the_readme_says() -> None:
    # README.md, Adding a stack: the stack's name starts each routed service's target group
    # names, which must fit AWS's 32 characters with Pulumi's suffix.
    too_long = [
        name
        for name, spec in sorted(CATALOG.items())
        if spec.routes
        and not naming.fits_lb_name_limit(
            naming.alternate_target_group(naming.service_component("production", name))
        )
    ]
    assert too_long, "every routed service fits with `production`: update README.md"
    rendering = render_document("production", environment_document("prod"), check=False)
    assert rendering.resources == []
    assert [line.strip() for line in str(rendering.error).splitlines()[1:]] == [
        f"services.{name}: the target group name 'production-{name}-alt' is longer than AWS "
        "allows once Pulumi adds its 8-character suffix (allowed: 32 characters); fix: shorten "
        f"the name of '{name}' in services/, or the stack's name"
        for name in too_long
    ]
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert "a stack cannot be called `production` (call it `prod`)" in readme
