"""The offline diff tells a replacement from an in-place update, follows replacements, and flags
what will conflict in AWS, config that reaches every resource and keys that must not change."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import keyword
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.immutable import IMMUTABLE_KEYS
from config.schema import ObservabilityConfig
from offline.__main__ import main
from offline.change import (
    ConfigChange,
    PropertyChange,
    ResourceDiff,
    diff,
    format_markdown,
    format_text,
    immutable_changes,
    replacements,
)
from offline.preview import document
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering, render
from offline.render.stackfile import project_name, to_cli_config
from tests.conftest import all_in_one_copy, render_with

PROJECT = Path(__file__).resolve().parent.parent
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def cpu_change(prod: Rendering) -> ResourceDiff:
    """order-service from 512 to 256 CPU units (512 MiB..2 GiB fit both)."""
    return diff(prod, render_with("prod", [("services.order-service.cpu", "256")]))


@pytest.fixture(scope="module")
def cidr_change(prod: Rendering) -> ResourceDiff:
    return diff(prod, render_with("prod", [("network.cidrBlock", "10.31.0.0/16")]))


def one(rendering: Rendering, type_: str, **inputs: Any) -> RecordedResource:
    (found,) = [
        r
        for r in rendering.of_type(type_)
        if all(r.inputs.get(key) == value for key, value in inputs.items())
    ]
    return found


def with_resources(rendering: Rendering, resources: list[RecordedResource]) -> Rendering:
    return dataclasses.replace(rendering, resources=sorted(resources, key=lambda r: r.urn))


def swapped(rendering: Rendering, old: RecordedResource, new: RecordedResource) -> Rendering:
    return with_resources(rendering, [new if r is old else r for r in rendering.resources])


def renamed(resource: RecordedResource, name: str) -> RecordedResource:
    return dataclasses.replace(
        resource, name=name, urn=resource.urn.rsplit("::", 1)[0] + f"::{name}"
    )


# --- the replacement table -------------------------------------------------------------------


def test_every_registered_type_has_a_rule(dev: Rendering, prod: Rendering) -> None:
    types = {r.type for r in [*dev.resources, *prod.resources]}
    missing = sorted(
        t for t in types if not replacements.is_component(t) and replacements.rule_for(t) is None
    )
    assert missing == [], "add these types to offline/change/replacements.py, with their sources"
    assert all(replacements.rule_for(t) is None for t in types if replacements.is_component(t))
    assert replacements.rule_for(TASK) is not None  # always replaced, registered or not


def _input_names(type_: str) -> set[str]:
    """The resource's inputs in camelCase, from the installed SDK's resource class."""
    package, module, name = type_.split(":")
    folder = module.partition("/")[0]
    # A Python keyword takes a trailing underscore (`lambda` -> `lambda_`).
    folder = f"{folder}_" if keyword.iskeyword(folder) else folder
    # Through the package, as the program reaches it: importing one of pulumi_aws's modules
    # directly would leave its lazily loaded package without the other classes.
    sdk = getattr(importlib.import_module(f"pulumi_{package}"), folder)
    parameters = inspect.signature(getattr(sdk, name)._internal_init).parameters
    names = [p for p in parameters if p not in ("__self__", "resource_name", "opts")]
    return {p.split("_")[0] + "".join(w.title() for w in p.split("_")[1:]) for p in names}


@pytest.mark.parametrize("rule", replacements.RULES.values(), ids=lambda rule: rule.type)
def test_rule_paths_are_inputs_and_cited(rule: replacements.ReplacementRule) -> None:
    inputs = _input_names(rule.type)
    paths = [
        *rule.replace_on,
        *(rule.replace_on_any_except or ()),
        *rule.replace_on_kind_change,
        *rule.subnet_layout,
        *(p for identity in rule.identities for p in identity.paths),
    ]
    assert {p.split(".")[0] for p in paths} <= inputs
    assert "terraform-provider-aws internal/service/" in rule.source
    assert all(identity.source for identity in rule.identities)


# --- replace or update -----------------------------------------------------------------------


def test_task_definition_cpu_change_is_a_replacement(cpu_change: ResourceDiff) -> None:
    text = format_text(cpu_change, "prod", "prod-changed")
    assert text.startswith(
        "prod → prod-changed: 0 to add, 0 to remove, 1 to change, 1 to replace, 0 will conflict\n"
    )
    # prod traces: the application's container keeps the task's CPU less the collector's.
    collector = ObservabilityConfig().collector_cpu
    assert (
        f"+- {TASK}  prod-order-service-task  (replace: containerDefinitions[0].cpu, cpu)\n"
        f"      containerDefinitions[0].cpu: {512 - collector} → {256 - collector}\n"
        "      cpu: 512 → 256\n"
    ) in text
    # The service reads the new revision's ARN: an update in place, as `pulumi preview` shows.
    assert (
        f"~ {ECS_SERVICE}  prod-order-service-ecs\n"
        "      taskDefinition: ${prod-order-service-task.arn} → (known after deploy)\n" in text
    )


def test_in_place_change_stays_an_update(prod: Rendering) -> None:
    result = diff(
        prod, render_with("prod", [("services.order-service.autoscaling.maxCount", "12")])
    )
    assert result.replacements == {} and result.deploy_changes == {}
    [(target, _)] = result.changed
    assert result.action(target) == "~"
    assert result.counts == {"add": 0, "remove": 0, "change": 1, "replace": 0, "conflict": 0}


def test_replacement_spreads_along_forcing_references(cidr_change: ResourceDiff) -> None:
    replaced = {
        cidr_change.head_resources[urn].name: r for urn, r in cidr_change.replacements.items()
    }
    assert replaced["prod-network-vpc"].forced_by == ("cidrBlock",)
    # vpc is ForceNew on the namespace, the namespace's id on its services: two hops.
    assert replaced["prod-discovery-namespace"].because == ("prod-network-vpc",)
    assert replaced["prod-user-service-discovery"].because == ("prod-discovery-namespace",)
    assert replaced["prod-ingress-sg"].because == ("prod-network-vpc",)
    # The ECS services only update: their registry, groups and subnets change in place.
    [service] = [
        r
        for r in cidr_change.head_resources.values()
        if r.type == ECS_SERVICE and r.inputs["name"] == "user-service"
    ]
    assert service.urn not in cidr_change.replacements
    assert "serviceRegistries.registryArn" in {
        d.path for d in cidr_change.deploy_changes[service.urn]
    }


def test_ignored_inputs_force_nothing(prod: Rendering) -> None:
    service = one(prod, ECS_SERVICE, name="user-service")
    moved = dataclasses.replace(service, inputs={**service.inputs, "launchType": "FARGATE"})
    result = diff(prod, swapped(prod, service, moved))
    assert result.replacements[service.urn].forced_by == ("launchType",)
    ignored = dataclasses.replace(moved, ignore_changes=(*moved.ignore_changes, "launchType"))
    assert diff(prod, swapped(prod, service, ignored)).replacements == {}


# --- will conflict ---------------------------------------------------------------------------


def test_fixed_name_replacement_without_delete_before_replace(prod: Rendering) -> None:
    logs = one(prod, LOG_GROUP, name="/ecs/microservices-prod/user-service")
    colder = dataclasses.replace(
        logs,
        inputs={**logs.inputs, "logGroupClass": "INFREQUENT_ACCESS"},
        delete_before_replace=False,
    )
    result = diff(prod, swapped(prod, logs, colder))
    assert result.replacements[logs.urn].forced_by == ("logGroupClass",)
    [conflict] = result.conflicts
    assert conflict.resource.urn == logs.urn
    text = format_text(result, "prod", "head")
    assert "1 to replace, 1 will conflict\n" in text
    assert (
        "      ! will conflict: log group name (the resource's id) "
        "/ecs/microservices-prod/user-service is held by the original until it is deleted, "
        "and Pulumi creates before it deletes\n" in text
    )
    # Deleting first, or a new name, frees the name before it is taken again.
    first = dataclasses.replace(colder, delete_before_replace=True)
    assert diff(prod, swapped(prod, logs, first)).conflicts == ()
    moved = dataclasses.replace(colder, inputs={**colder.inputs, "name": "/ecs/other"})
    assert diff(prod, swapped(prod, logs, moved)).conflicts == ()


def test_listener_renamed_on_the_same_port(prod: Rendering) -> None:
    http = one(prod, LISTENER, port=80)
    base = swapped(prod, http, renamed(http, "prod-ingress-http-redirect"))
    head = swapped(prod, http, renamed(http, "prod-ingress-http"))
    result = diff(base, head)
    assert [r.name for r in result.removed] == ["prod-ingress-http-redirect"]
    assert [r.name for r in result.added] == ["prod-ingress-http"]
    [conflict] = result.conflicts
    assert conflict.holder == "prod-ingress-http-redirect"
    text = format_text(result, "base", "head")
    assert text.startswith("base → head: 1 to add, 1 to remove, 0 to change, 0 to replace, ")
    assert (
        f"+ {LISTENER}  prod-ingress-http\n"
        "      ! will conflict: listener port on its load balancer ${prod-ingress-alb.arn}, 80 is "
        "held by prod-ingress-http-redirect until it is deleted, and Pulumi creates before it "
        "deletes\n" in text
    )
    markdown = format_markdown(result, "base", "head")
    assert "**1 to add, 1 to remove, 0 to change, 0 to replace, 1 will conflict**" in markdown
    assert (
        "#### Will conflict\n\n| resource | conflict | source |\n|---|---|---|\n"
        f"| `{LISTENER} prod-ingress-http` | ⚠️ will conflict: listener port on its load balancer"
        in markdown
    )
    assert "DuplicateListener" in markdown  # the source of the rule
    # On another port the two listeners live side by side for a moment.
    other_port = dataclasses.replace(renamed(http, "prod-ingress-http"), inputs={**http.inputs})
    other_port.inputs["port"] = 8080
    assert diff(base, swapped(prod, http, other_port)).conflicts == ()


def resource(type_: str, name: str, inputs: dict[str, Any], stack: str = "s") -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:{stack}::p::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        custom=not type_.startswith("awsx:"),
        inputs=inputs,
    )


def private_subnets(*blocks: str) -> dict[str, Any]:
    return {
        "cidrBlock": "10.30.0.0/16",
        "subnetSpecs": [{"type": "Private", "cidrBlocks": [*blocks]}],
    }


def test_overlapping_subnet_replacement() -> None:
    old = private_subnets("10.30.16.0/20", "10.30.48.0/20")
    moved = private_subnets("10.30.16.0/20", "10.30.32.0/19")
    grown = private_subnets("10.30.16.0/20", "10.30.48.0/20", "10.30.80.0/20")
    plan = replacements.subnet_plan(old, moved)
    assert plan.replaced_outputs == {"privateSubnetIds[1]"}
    assert plan.overlaps == (("10.30.32.0/19", "10.30.48.0/20"),)
    assert replacements.subnet_plan(old, grown) == replacements.SubnetPlan(
        replaced_outputs=frozenset()
    )

    vpc = resource("awsx:ec2:Vpc", "v", old)
    subnets = ["${v.privateSubnetIds[0]}", "${v.privateSubnetIds[1]}"]
    service = resource(ECS_SERVICE, "svc", {"networkConfiguration": {"subnets": subnets}})
    base = Rendering(project="p", stack="s", resources=[service, vpc], outputs={})
    result = diff(base, with_resources(base, [service, dataclasses.replace(vpc, inputs=moved)]))
    assert result.replacements[vpc.urn].scope == "its subnets"
    # Only the moved subnet's id is new.
    assert [d.path for d in result.deploy_changes[service.urn]] == [
        "networkConfiguration.subnets[1]"
    ]
    [conflict] = result.conflicts
    assert conflict.value == "10.30.32.0/19 (overlapping 10.30.48.0/20)"
    assert "+- awsx:ec2:Vpc  v  (replaces its subnets: subnetSpecs[0].cidrBlocks[1])\n" in (
        format_text(result, "s", "s")
    )
    grown_head = with_resources(base, [service, dataclasses.replace(vpc, inputs=grown)])
    assert diff(base, grown_head).replacements == {}


def test_security_group_rule_source_type_switch_replaces() -> None:
    rule = replacements.RULES["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"]
    old = {"securityGroupId": "${sg.id}", "cidrIpv4": "10.0.0.0/8", "description": "a"}
    new = {"securityGroupId": "${sg.id}", "referencedSecurityGroupId": "${other.id}"}
    changed = ["cidrIpv4", "description", "referencedSecurityGroupId"]
    assert replacements.forcing_paths(rule, changed, old=old, new=new) == (
        "cidrIpv4",
        "referencedSecurityGroupId",
    )
    same_kind = {**old, "cidrIpv4": "10.1.0.0/16", "description": "b"}
    assert replacements.forcing_paths(rule, ["cidrIpv4"], old=old, new=same_kind) == ()


# --- between stacks --------------------------------------------------------------------------


def qa_document(environment_tag: str) -> dict[str, Any]:
    # A short stack name: it is part of every target group name, which AWS limits to 32
    # characters, so a longer one could refuse a catalog with longer service names.
    document_ = environment_document("prod")
    document_["aws:defaultTags"]["tags"]["Environment"] = environment_tag
    return document_


def test_prod_and_an_identical_qa_stack_show_no_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = all_in_one_copy(tmp_path / "project")
    (copy / "Pulumi.qa.yaml").write_text(
        yaml.safe_dump({"config": qa_document("qa")}, sort_keys=False)
    )
    monkeypatch.chdir(copy)
    assert main(["diff", "prod", "qa"]) == 0
    assert capsys.readouterr().out == "prod → qa: no changes\n"


def test_a_copied_stack_file_differs_only_in_its_tag(prod: Rendering) -> None:
    # The prod file copied as is: names and values line up, but the tag still says prod.
    config = to_cli_config(project_name(), "qa", qa_document("prod"))
    result = diff(prod, render("qa", config=config))
    assert not (result.added or result.removed or result.changed)
    assert result.config == (
        ConfigChange(
            key="aws:defaultTags",
            why="retags every resource",
            changes=(PropertyChange(path="tags.Environment", old="<stack>", new="prod"),),
        ),
    )
    assert not result.empty


def test_stack_names_are_whole_tokens() -> None:
    def cluster(stack: str, url: str) -> Rendering:
        inputs = {"name": f"p-{stack}", "url": url, "environment": "production", "tag": "prod2"}
        found = resource("aws:ecs/cluster:Cluster", f"{stack}-cluster", inputs, stack)
        return Rendering(project="p", stack=stack, resources=[found], outputs={})

    base = cluster("prod", "http://a.prod.internal:8080")
    head = cluster("qa", "http://a.qa.internal:8080")
    assert diff(base, head).empty
    head.resources[0].inputs["environment"] = "qaproduction"
    [(_, changes)] = diff(base, head).changed
    assert changes == (PropertyChange(path="environment", old="production", new="qaproduction"),)


# --- config that reaches everything ----------------------------------------------------------


def test_default_tags_change_is_shown(
    prod: Rendering, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tagged = render_with("prod", [("aws:defaultTags.tags.CostCenter", "platform")])
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(document.dumps(prod))
    head.write_text(document.dumps(tagged))
    assert main(["diff", str(base), str(head)]) == 1  # no input changes, still a change
    text = capsys.readouterr().out
    assert text.startswith(f"{base} → {head}: 0 to add, 0 to remove, 0 to change, ")
    assert (
        "Stack config:\n"
        "! aws:defaultTags  (retags every resource)\n"
        "      tags.CostCenter: (none) → platform\n" in text
    )
    assert main(["diff", str(base), str(head), "--format", "markdown"]) == 1
    assert (
        "| `aws:defaultTags` (retags every resource) | `tags.CostCenter` | `(none)` | `platform` |"
        in capsys.readouterr().out
    )


def test_cidr_block_change_is_warned(cidr_change: ResourceDiff) -> None:
    [warning] = cidr_change.immutable
    assert (warning.key.path, warning.old, warning.new) == (
        "network.cidrBlock",
        "10.30.0.0/16",
        "10.31.0.0/16",
    )
    text = format_text(cidr_change, "prod", "head")
    assert (
        "Warnings:\n! network.cidrBlock: 10.30.0.0/16 → 10.31.0.0/16 must never change after the "
        "first deploy: the VPC's cidr_block is ForceNew" in text
    )
    assert "#### Warnings" in format_markdown(cidr_change, "prod", "head")


def test_switching_discovery_mode_is_warned(prod: Rendering) -> None:
    head = render_with("prod", [("discovery.mode", "serviceConnect")])
    result = diff(prod, head)
    [warning] = result.immutable
    assert (warning.key.path, warning.old, warning.new) == (
        "discovery.mode",
        "cloudMapDns",
        "serviceConnect",
    )
    assert (
        "! discovery.mode: cloudMapDns → serviceConnect switches in one `pulumi up`: every "
        "service keeps its Cloud Map DNS records, Service Connect registers it under another "
        "Cloud Map name"
    ) in format_text(result, "prod", "head")


def test_immutable_keys_read_absent_keys_as_their_defaults() -> None:
    def stack(network: dict[str, Any] | None) -> Rendering:
        config = {} if network is None else {"microservices:network": json.dumps(network)}
        return Rendering(
            project="microservices", stack="dev", resources=[], outputs={}, config=config
        )

    default = next(k for k in IMMUTABLE_KEYS if k.path == "network.cidrBlock").default("dev")
    assert immutable_changes(stack(None), stack({"cidrBlock": default})) == []
    moved = immutable_changes(stack(None), stack({"cidrBlock": "10.9.0.0/16"}))
    assert [(w.key.path, w.old, w.new) for w in moved] == [
        ("network.cidrBlock", default, "10.9.0.0/16")
    ]
    assert immutable_changes(stack({"availabilityZones": 2}), stack({"availabilityZones": 3})) == []


def test_no_warnings_between_two_stacks(dev: Rendering, prod: Rendering) -> None:
    result = diff(dev, prod)  # their blocks differ by design
    assert result.immutable == () and result.conflicts == () and result.deploy_changes == {}
    # prod's tasks also gain the trace collector.
    assert (
        f"+- {TASK}  <stack>-user-service-task  (replace: containerDefinitions, cpu, memory)"
        in format_text(result, "dev", "prod")
    )


# --- markdown --------------------------------------------------------------------------------


def test_markdown_carries_the_same_markers(cpu_change: ResourceDiff) -> None:
    text = format_markdown(cpu_change, "prod", "head")
    assert "**0 to add, 0 to remove, 1 to change, 1 to replace, 0 will conflict**" in text
    assert f"| `+-` | `{TASK} prod-order-service-task` | `cpu` (replaces) | `512` | `256` |" in text
    assert (
        f"| `~` | `{ECS_SERVICE} prod-order-service-ecs` | `taskDefinition` "
        "| `${prod-order-service-task.arn}` | `(known after deploy)` |" in text
    )
