"""Inputs that keep their deployed value when left out (offline/change/sticky.py), on every
committed stack and its variants: what one variant sends, every other variant sends too, unless
AWS reads the kept value under none of that variant's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from offline.change import sticky
from offline.render.environments import environment_document, environment_stacks
from offline.render.harness import Rendering
from offline.render.stackfile import config_rm_path, config_set_path
from services import CATALOG
from tests.conftest import render_document
from tests.test_offline_diff import _input_names

STRATEGIES = ("rolling", "blueGreen", "linear", "canary")


def _variants(stack: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The environment as committed (one all-in-one stack, however it is split), and with each
    release strategy (for a routed service), each discovery mode, each architecture and
    rollback on and off."""
    base = environment_document(stack)
    yield "as committed", base
    routed = sorted(n for n, spec in CATALOG.items() if spec.routes and len(spec.routes) == 1)
    for strategy in STRATEGIES:
        for name in routed:
            document = config_rm_path(base, f"services.{name}.deployment")
            document = config_rm_path(document, f"services.{name}.autoscaling.requestsPerTarget")
            document = config_set_path(document, f"services.{name}.deployment.strategy", strategy)
            if strategy != "rolling":
                document = config_set_path(
                    document, f"services.{name}.deployment.bakeTimeMinutes", "5"
                )
            yield f"{name} {strategy}", document
    for mode in ("cloudMapDns", "serviceConnect"):
        yield f"discovery {mode}", config_set_path(base, "discovery.mode", mode)
    for architecture in ("X86_64", "ARM64"):
        document = base
        for name in sorted(CATALOG):
            document = config_set_path(document, f"services.{name}.cpuArchitecture", architecture)
        yield f"all {architecture}", document
    for rollback in ("true", "false"):
        document = base
        for name in sorted(CATALOG):
            document = config_set_path(document, f"services.{name}.alarms.rollback", rollback)
        yield f"rollback {rollback}", document


@pytest.fixture(scope="module", params=environment_stacks())
def variants(request: pytest.FixtureRequest) -> dict[str, Rendering]:
    stack = request.param
    return {label: render_document(stack, document) for label, document in _variants(stack)}


def test_no_variant_leaves_out_what_another_sends(variants: dict[str, Rendering]) -> None:
    seen: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for label, rendering in variants.items():
        for resource in rendering.resources:
            seen.setdefault((resource.type, resource.name), {})[label] = resource.inputs
    problems = []
    for (type_, name), by_variant in sorted(seen.items()):
        for entry in sticky.sticky_inputs(type_):
            parent = entry.path.rsplit(".", 1)[0] if "." in entry.path else None
            relevant = {
                label: inputs
                for label, inputs in by_variant.items()
                if parent is None or sticky.is_sent(inputs, parent)
            }
            sending = sorted(
                variant for variant, i in relevant.items() if sticky.is_sent(i, entry.path)
            )
            leaving = sorted(
                variant
                for variant, i in relevant.items()
                if not sticky.is_sent(i, entry.path) and entry.used(i)
            )
            if sending and leaving:
                problems.append(
                    f"{type_} {name}: {entry.path} is sent in {sending[0]!r} and left out in "
                    f"{leaving[0]!r} ({entry.why}: left out, AWS keeps the old value)"
                )
    assert problems == [], "\n".join(problems)


def test_the_variants_reach_what_they_vary(variants: dict[str, Rendering]) -> None:
    """Each kind of variant renders something else, so the check above compares real
    differences."""
    strategies = {
        service.inputs["deploymentConfiguration"]["strategy"]
        for rendering in variants.values()
        for service in rendering.of_type("aws:ecs/service:Service")
    }
    assert strategies == {"ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"}
    connect = {
        bool(service.inputs.get("serviceConnectConfiguration"))
        for rendering in variants.values()
        for service in rendering.of_type("aws:ecs/service:Service")
    }
    assert connect == {True, False}
    rollbacks = {
        service.inputs["alarms"]["rollback"]
        for rendering in variants.values()
        for service in rendering.of_type("aws:ecs/service:Service")
    }
    assert rollbacks == {True, False}
    # Every sticky input of an ECS service the program sets is spelt as the program sends it
    # (a misspelt path would never match, and never be checked).
    sent = {
        entry.path
        for rendering in variants.values()
        for service in rendering.of_type("aws:ecs/service:Service")
        for entry in sticky.sticky_inputs("aws:ecs/service:Service")
        if sticky.is_sent(service.inputs, entry.path)
    }
    never_set = {"availabilityZoneRebalancing", "platformVersion", "triggers"}
    assert sent == {e.path for e in sticky.sticky_inputs("aws:ecs/service:Service")} - never_set


@pytest.mark.parametrize("type_", sorted(sticky.STICKY))
def test_every_sticky_input_is_an_input_of_its_type(type_: str) -> None:
    inputs = _input_names(type_)
    for entry in sticky.sticky_inputs(type_):
        assert entry.path.split(".")[0] in inputs, entry.path
        assert "terraform-provider-aws" in entry.source


def test_a_removed_nested_input_is_kept_only_where_its_parent_is_still_sent() -> None:
    service = "aws:ecs/service:Service"
    rolling = {"deploymentConfiguration": {"strategy": "ROLLING"}}
    kept = sticky.kept_when_left_out(
        service, "deploymentConfiguration.canaryConfiguration.canaryPercent", rolling
    )
    assert kept is not None and kept.path == "deploymentConfiguration.canaryConfiguration"
    assert not kept.used(rolling)
    assert (
        sticky.kept_when_left_out(service, "serviceConnectConfiguration.namespace", {"name": "x"})
        is None
    )  # the whole block went: a non-sticky block's removal is sent
    assert sticky.kept_when_left_out(service, "desiredCount", rolling) is None
