"""Day-2 changes: what `pulumi up` does after `pulumi config set`, a teardown, a second copy of
the project, and the mistakes that used to pass silently.

Each update test renders a stack before and after a change and asserts, with the offline
diff's replacement rules, what the update would do.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.network.network import subnet_layout
from config import ConfigError, OtherStack, load_settings
from config.limits import PRIVATE_SUBNET_PREFIX, PUBLIC_SUBNET_PREFIX
from config.routes import Rule, pattern_covers, shadowed_rules
from offline.change import diff
from offline.change.replacements import rule_for, under
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering, render
from offline.render.stackfile import (
    PROJECT_DIR,
    config_set_path,
    project_name,
    to_cli_config,
)
from services import CATALOG
from tests.conftest import containers, render_document, render_with

LISTENER = "aws:lb/listener:Listener"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/8f2b6c1e-1d3a-4c55-9b7e-2f1a0c9d4e11"


def vpc_inputs(rendering: Rendering) -> dict[str, Any]:
    (vpc,) = rendering.of_type("awsx:ec2:Vpc")
    return vpc.inputs


def subnet_blocks(rendering: Rendering) -> dict[str, list[str]]:
    return {spec["type"]: spec["cidrBlocks"] for spec in vpc_inputs(rendering)["subnetSpecs"]}


# --- HTTP <-> HTTPS ----------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["add certificate", "remove certificate"])
def test_certificate_change_updates_the_port_80_listener_in_place(
    dev: Rendering, direction: str
) -> None:
    https = render_with("dev", [("loadBalancer.certificateArn", CERTIFICATE)])
    base, head = (dev, https) if direction == "add certificate" else (https, dev)
    result = diff(base, head)

    def port_80(rendering: Rendering) -> list[RecordedResource]:
        return [r for r in rendering.of_type(LISTENER) if r.inputs["port"] == 80]

    # One port-80 listener on both sides, the same resource: its default action changes.
    (before,), (after,) = port_80(base), port_80(head)
    assert before.urn == after.urn == base.named("dev-ingress-http").urn
    assert {r.urn for r in result.added + result.removed if r.type == LISTENER} == {
        https.named("dev-ingress-https").urn
    }
    assert after.urn not in result.replacements
    changed = {r.urn: changes for r, changes in result.changed}
    assert "defaultActions[0].type" in {c.path for c in changed[after.urn]}
    assert result.conflicts == ()


# --- availability zones -----------------------------------------------------------------------


def test_adding_an_availability_zone_only_adds_subnets(dev: Rendering) -> None:
    zones = vpc_inputs(dev)["numberOfAvailabilityZones"]
    wider = render_with("dev", [("network.availabilityZones", str(zones + 1))])
    before, after = subnet_blocks(dev), subnet_blocks(wider)
    for kind in ("Public", "Private"):
        assert after[kind][:zones] == before[kind], f"{kind} subnets moved"
        assert len(after[kind]) == zones + 1
    result = diff(dev, wider)
    assert result.replacements == {}
    assert result.conflicts == ()


def test_the_block_size_from_before_pinning_keeps_old_subnets_in_place() -> None:
    # awsx sized each zone's block from the VPC divided by the zone count (a /16 over 2 zones:
    # /17), public /24 first; e.g. the second public subnet was 10.20.128.0/24.
    legacy = render_with("dev", [("network.availabilityZoneCidrMask", "17")])
    assert subnet_blocks(legacy) == {
        "Public": ["10.20.0.0/24", "10.20.128.0/24"],
        "Private": ["10.20.16.0/20", "10.20.144.0/20"],
    }


@pytest.mark.parametrize("zone_mask", [17, 18, 19])
def test_a_zones_subnets_do_not_depend_on_the_number_of_zones(zone_mask: int) -> None:
    vpc = ipaddress.IPv4Network("10.20.0.0/16")
    most = 2 ** (zone_mask - vpc.prefixlen)
    layouts = [
        subnet_layout(
            str(vpc),
            zones,
            zone_mask=zone_mask,
            public_mask=PUBLIC_SUBNET_PREFIX,
            private_mask=PRIVATE_SUBNET_PREFIX,
        )
        for zones in range(2, most + 1)
    ]
    for shorter, longer in itertools.pairwise(layouts):
        assert longer[: len(shorter)] == shorter
    subnets = [ipaddress.IPv4Network(s) for z in layouts[-1] for s in (z.public, z.private)]
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    with pytest.raises(ValueError, match="holds"):
        subnet_layout(str(vpc), most + 1, zone_mask=zone_mask, public_mask=24, private_mask=20)


# --- /tmp preparation ----------------------------------------------------------------------------


def test_tmp_preparation_works_for_an_image_without_a_shell() -> None:
    distroless = "gcr.io/distroless/static-debian12:nonroot"
    rendering = render_with(
        "dev",
        [
            ("services.user-service.image", distroless),
            ("services.user-service.user", "65532"),
        ],
    )
    prepare, application = containers(rendering, "user-service")
    assert application["image"] == distroless
    # The preparation never runs the application's image: it brings its own chmod.
    assert prepare["image"] != distroless
    assert prepare["entryPoint"] == ["/bin/chmod"]
    assert "sh" not in " ".join(prepare["entryPoint"] + prepare["command"]).split("/")


# --- teardown --------------------------------------------------------------------------------


def _with_teardown(choice: str | None) -> Rendering:
    document = environment_document("prod")
    if choice is not None:
        document = config_set_path(document, "teardown.logs", choice)
    return render_document("prod", document)


def test_prod_refuses_a_destroy_until_a_teardown_is_chosen(prod: Rendering) -> None:
    assert prod.named("prod-ingress-alb").inputs["enableDeletionProtection"] is True
    assert prod.named("prod-ingress-logs").inputs["forceDestroy"] is False
    assert not any(r.retain_on_delete for r in prod.resources)


def test_teardown_delete_empties_the_log_bucket_and_lifts_deletion_protection() -> None:
    document = config_set_path(environment_document("prod"), "teardown.logs", "delete")
    rendering = render_document("prod", config_set_path(document, "teardown.data", "delete"))
    assert rendering.named("prod-ingress-alb").inputs["enableDeletionProtection"] is False
    assert rendering.named("prod-ingress-logs").inputs["forceDestroy"] is True
    assert not any(r.retain_on_delete for r in rendering.resources)
    assert any("teardown.logs" in w and "deletes the access logs" in w for w in rendering.warnings)


def test_teardown_keep_leaves_every_log_store_and_its_key() -> None:
    rendering = _with_teardown("keep")
    assert rendering.named("prod-ingress-alb").inputs["enableDeletionProtection"] is False
    bucket = rendering.named("prod-ingress-logs")
    assert bucket.inputs["forceDestroy"] is False
    kept = {r.name for r in rendering.resources if r.retain_on_delete}
    # With the data kept too (teardown.data defaults to keep): tables and image repositories.
    log_stores = {
        r.name
        for r in rendering.resources
        if r.type
        in (
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:kms/key:Key",
            "aws:dynamodb/table:Table",
            "aws:ecr/repository:Repository",
        )
        or r.type.startswith("aws:s3/")
    }
    assert log_stores and kept == log_stores
    # Nothing else outlives the stack.
    assert not any(r.retain_on_delete for r in rendering.resources if r.name not in log_stores)


# --- names and replacements ---------------------------------------------------------------------


def _identity_is_kept_by_a_replacement(resource: RecordedResource) -> list[str]:
    """Inputs the program sets that force a replacement while the resource's unique identity
    (a fixed name, a port on a listener) stays the same."""
    rule = rule_for(resource.type)
    if rule is None:
        return []
    found = []
    for identity in rule.identities:
        if any(resource.inputs.get(path.split(".")[0]) is None for path in identity.paths):
            continue
        forcing = (
            [key for key in resource.inputs if key not in rule.replace_on_any_except]
            if rule.replace_on_any_except is not None
            else [path for path in rule.replace_on if resource.inputs.get(path.split(".")[0])]
        )
        found += [
            path
            for path in forcing
            if not any(under(path, held) or under(held, path) for held in identity.paths)
        ]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_replacement_that_keeps_a_unique_name_deletes_first(stack: str) -> None:
    rendering = render(stack)
    unsafe = {
        r.name: paths
        for r in rendering.resources
        if (paths := _identity_is_kept_by_a_replacement(r)) and not r.delete_before_replace
    }
    assert unsafe == {}, "a replacement would create a duplicate before deleting the original"


def test_cloud_map_names_are_replaced_delete_first(prod: Rendering) -> None:
    for resource in prod.of_type("aws:servicediscovery/service:Service"):
        assert resource.delete_before_replace, resource.name
    (namespace,) = prod.of_type("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    assert namespace.delete_before_replace


def _fixed_names(rendering: Rendering) -> dict[str, str]:
    """Every literal value that names something AWS holds once per account and region."""
    names = {}
    for resource in rendering.resources:
        rule = rule_for(resource.type)
        for identity in rule.identities if rule is not None else ():
            values = [resource.inputs.get(path.split(".")[0]) for path in identity.paths]
            if all(isinstance(v, str | int) for v in values) and not any(
                "${" in str(v) for v in values
            ):
                names[resource.name] = json.dumps(values)
        if resource.type == TASK_DEFINITION:
            names[resource.name] = resource.inputs["family"]
    return names


def test_a_second_copy_of_the_project_with_the_same_stacks_shares_no_name(prod: Rendering) -> None:
    document = {
        (f"billing:{key.split(':', 1)[1]}" if key.startswith("microservices:") else key): value
        for key, value in environment_document("prod").items()
    }
    billing = render("prod", config=to_cli_config("billing", "prod", document))
    ours, theirs = _fixed_names(prod), _fixed_names(billing)
    assert ours and set(ours) == set(theirs)
    assert {ours[name] for name in ours} & {theirs[name] for name in theirs} == set()
    waf = billing.named("prod-ingress-waf-logs")
    assert waf.inputs["name"] == "aws-waf-logs-billing-prod"


def test_tasks_start_only_after_the_agents_permissions(prod: Rendering) -> None:
    for name in CATALOG:
        policy = prod.named(f"prod-{name}-execution-policy")
        task = prod.named(f"prod-{name}-task")
        service = prod.named(f"prod-{name}-ecs")
        assert policy.urn in task.dependencies
        assert policy.urn in service.dependencies


def test_cloud_map_keeps_the_health_threshold_the_provider_needs(prod: Rendering) -> None:
    # Without it the provider reads back a diff that replaces the service on every update.
    for resource in prod.of_type("aws:servicediscovery/service:Service"):
        assert resource.inputs["healthCheckCustomConfig"] == {"failureThreshold": 1}


# --- mistakes that used to pass silently -------------------------------------------------------


def test_the_fix_for_a_key_set_without_path_removes_it() -> None:
    key = "services.user-service.memory"
    document = {**environment_document("dev"), f"microservices:{key}": 1024}
    broken = render_document("dev", document, check=False)
    (line,) = str(broken.error).splitlines()[1:]
    assert f"fix: pulumi config rm '{key}', then pulumi config set --path '{key}' 1024" in line
    # `pulumi config rm KEY` (no --path) removes the top-level key; then the nested one is set.
    fixed = {k: v for k, v in document.items() if k != f"microservices:{key}"}
    fixed = config_set_path(fixed, key, "1024")
    rendering = render_document("dev", fixed)
    task = rendering.named("dev-user-service-task")
    assert task.inputs["memory"] == "1024"


def test_a_nested_secret_is_named_and_its_fix_removes_only_it() -> None:
    raw = {"services": {"order-service": {"environment": {"TOKEN": "x"}}}}
    with pytest.raises(ConfigError) as raised:
        load_settings(
            raw,
            stack="dev",
            region="us-east-1",
            secret_keys=frozenset({"services"}),
            secret_paths={"services": ("services.order-service.environment.TOKEN",)},
        )
    (issue,) = raised.value.issues
    assert issue.path == "services.order-service.environment.TOKEN"
    assert issue.fix.startswith(
        "pulumi config rm --path 'services.order-service.environment.TOKEN', then"
    )
    assert "'x'" not in str(raised.value) and '"x"' not in str(raised.value)


@pytest.mark.parametrize(("set_by_user", "shown"), [(False, "1 (the default)"), (True, "5")])
def test_the_band_warning_says_whether_the_count_is_the_default(
    set_by_user: bool, shown: str
) -> None:
    service: dict[str, Any] = {"autoscaling": {"minCount": 2, "maxCount": 4}}
    if set_by_user:
        service["desiredCount"] = 5
    settings = load_settings(
        {"services": {"order-service": service}}, stack="dev", region="us-east-1"
    )
    (warning,) = [w for w in settings.warnings if "desiredCount" in w]
    assert warning.startswith(f"services.order-service.desiredCount: {shown} is outside")


def test_stacks_that_share_a_range_in_a_region_get_a_warning(tmp_path: Path) -> None:
    settings = load_settings(
        {},
        stack="qa",
        region="us-east-1",
        other_stacks={
            "dev": OtherStack(region="us-east-1", cidr_block="10.20.0.0/16"),
            "eu": OtherStack(region="eu-west-1", cidr_block="10.20.0.0/16"),
        },
    )
    (warning,) = settings.warnings
    assert warning == (
        "network.cidrBlock: \"10.20.0.0/16\" overlaps the VPC of stack 'dev' in us-east-1: the "
        "two VPCs could never be peered or share a transit gateway (allowed: any private "
        "range; give each stack its own); fix: pulumi config set --path 'network.cidrBlock' "
        "10.0.0.0/16"
    )


def test_the_committed_stacks_do_not_share_a_range(dev: Rendering, prod: Rendering) -> None:
    for rendering in (dev, prod):
        assert not any("network.cidrBlock" in w for w in rendering.warnings)


def test_a_copied_stack_file_is_warned_about_its_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", tmp_path / "Pulumi.qa.yaml")
    # The program reads the project's stack files from its working directory, as under the CLI.
    monkeypatch.chdir(tmp_path)
    document = environment_document("dev")
    rendering = render("qa", config=to_cli_config(project_name(), "qa", document))
    assert any(
        w.startswith("network.cidrBlock: \"10.20.0.0/16\" overlaps the VPC of stack 'dev'")
        for w in rendering.warnings
    )


@pytest.mark.parametrize(
    ("general", "specific", "covers"),
    [
        ("/*", "/users/*", True),
        ("/users/*", "/*", False),
        ("/users*", "/users/42", True),
        ("/a?c", "/abc", True),
        ("/a?c", "/a*c", False),
        ("/a*", "/a?", True),
        ("/a?", "/a*", False),
        ("/users", "/users/*", False),
        ("*.example.com", "api.example.com", True),
    ],
)
def test_pattern_cover_follows_alb_wildcards(general: str, specific: str, covers: bool) -> None:
    assert pattern_covers(general, specific) is covers


def test_a_host_condition_narrows_a_catch_all() -> None:
    catch_all = Rule(service="api-gateway", priority=50000, path_patterns=("/*",))
    per_host = Rule(
        service="user-service",
        priority=100,
        path_patterns=("/*",),
        host_patterns=("USERS.example.com",),
    )
    everything = Rule(service="user-service", priority=100, path_patterns=("/*",))
    assert shadowed_rules([catch_all, per_host]) == []
    assert shadowed_rules([catch_all, everything]) == [(catch_all, everything)]
    # Host patterns are case-insensitive.
    hosts_only = Rule(service="user-service", priority=100, host_patterns=("USERS.example.com",))
    later = Rule(service="x", priority=200, host_patterns=("users.EXAMPLE.com",))
    assert shadowed_rules([hosts_only, later]) == [(later, hosts_only)]
