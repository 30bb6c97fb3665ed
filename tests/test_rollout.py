"""Release, rollback and scale-out estimates (offline/estimates/rollout.py): the model by
hand-computed cases, then what the preview, its JSON document and the diff show of it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from components.compute.release_time import (
    ASSUMPTIONS,
    NO_LOAD_BALANCER_WAIT_SECONDS,
    Assumptions,
    RolloutEstimate,
    ScalingPolicySettings,
    ScalingSettings,
    ServiceSettings,
    TargetGroupSettings,
    Timeline,
    estimate,
    rolling_timeline,
    scale_out,
)
from config.schema import DeploymentConfig, ServiceConfig
from config.settings import rollout as rollout_settings
from offline.change import diff, format_markdown, format_text
from offline.estimates.rollout import ECS_SERVICE, duration, estimates, settings_of, span
from offline.preview import document
from offline.preview.report import preview_text
from offline.render.environments import environment_document
from offline.render.harness import Rendering
from offline.render.stackfile import config_rm_path
from services import CATALOG
from tests.conftest import render_document, render_with

START = ASSUMPTIONS.task_start_seconds
CPU = "ECSServiceAverageCPUUtilization"
MEMORY = "ECSServiceAverageMemoryUtilization"
REQUESTS = "ALBRequestCountPerTarget"
STRATEGIES = {
    "rolling": "ROLLING",
    "blueGreen": "BLUE_GREEN",
    "linear": "LINEAR",
    "canary": "CANARY",
}

# A routed service: health check every 10 s, 30 s of deregistration delay, 30 s stop timeout.
ROUTED = ServiceSettings(
    desired_count=2,
    load_balanced=True,
    target_group=TargetGroupSettings(
        interval=10, healthy_threshold=2, unhealthy_threshold=3, deregistration_delay=30
    ),
    health_check_grace_period=60,
    stop_timeout=30,
)
READY = START + 10  # one passing check admits a new target
DRAIN = 30 + 30


# --- rolling updates -------------------------------------------------------------------------


def test_rolling_with_100_200_starts_every_task_at_once() -> None:
    # floor(4 * 200 / 100) = 8 may run: all 4 new tasks start beside the 4 old ones; the old
    # ones drain once the new ones are healthy.
    assert rolling_timeline(4, 100, 200, ready=70, drain=35) == Timeline(
        live=70, done=105, tasks_per_batch=4, batches=1
    )


def test_rolling_with_50_200_stops_half_early_and_takes_as_long() -> None:
    # ceil(4 * 50 / 100) = 2 must stay healthy: two old tasks stop at once, but the other two
    # still wait for the new ones, so the release takes as long as with 100 %.
    assert rolling_timeline(4, 50, 200, ready=70, drain=35) == rolling_timeline(
        4, 100, 200, ready=70, drain=35
    )
    # With one task, 50 % rounds up to that task: nothing stops early.
    assert rolling_timeline(1, 50, 200, ready=70, drain=35) == Timeline(
        live=70, done=105, tasks_per_batch=1, batches=1
    )


def test_rolling_without_headroom_goes_in_batches() -> None:
    # 50 % / 100 %, 4 tasks: stop 2 (35 s), start 2 (70 s), stop the other 2 (35 s), start 2
    # (70 s): 2 * 35 + 2 * 70 = 210 s, and nothing left to drain.
    assert rolling_timeline(4, 50, 100, ready=70, drain=35) == Timeline(
        live=210, done=210, tasks_per_batch=2, batches=2
    )


def test_rolling_maximum_rounds_down() -> None:
    # floor(3 * 150 / 100) = 4 may run: one new task at a time, each old one drained before
    # the next starts: 3 * 70 + 2 * 35 = 280 s live, the last old task gone 35 s later.
    assert rolling_timeline(3, 100, 150, ready=70, drain=35) == Timeline(
        live=280, done=315, tasks_per_batch=1, batches=3
    )


def test_rolling_with_zero_minimum_stops_everything_first() -> None:
    # 0 % / 100 %: the old tasks go first (35 s), then the new ones start (70 s).
    assert rolling_timeline(2, 0, 100, ready=70, drain=35) == Timeline(
        live=105, done=105, tasks_per_batch=2, batches=1
    )


def test_rolling_without_room_never_finishes() -> None:
    assert rolling_timeline(2, 100, 100, ready=70, drain=35) is None
    stuck = estimate(dataclasses.replace(ROUTED, maximum_percent=100))
    assert stuck.release_live_seconds is None and stuck.release_done_seconds is None
    assert span(stuck.release_live_seconds, stuck.release_done_seconds) == "never / never"
    assert any("no room" in note for note in stuck.notes)


def test_rolling_of_no_task_is_immediate() -> None:
    assert rolling_timeline(0, 100, 200, ready=70, drain=35) == Timeline(
        live=0, done=0, tasks_per_batch=0, batches=0
    )


def test_routed_rolling_service() -> None:
    result = estimate(ROUTED)
    assert (result.task_ready_seconds, result.drain_seconds) == (READY, DRAIN)
    assert (result.release_live_seconds, result.release_done_seconds) == (READY, READY + DRAIN)
    # A rollback redeploys the previous revision the same way.
    assert (result.rollback_live_seconds, result.rollback_done_seconds) == (READY, READY + DRAIN)
    assert (result.tasks_per_batch, result.batches) == (2, 1)
    # ECS acts on a failing new task after max(grace 60 s, 3 failed checks * 10 s).
    assert result.unhealthy_noticed_seconds == START + 60


def test_grace_period_and_healthy_threshold_do_not_delay_a_healthy_task() -> None:
    slow_to_judge = dataclasses.replace(
        ROUTED,
        health_check_grace_period=300,
        target_group=dataclasses.replace(ROUTED.target_group, healthy_threshold=10),
    )
    result = estimate(slow_to_judge)
    assert result.release_done_seconds == estimate(ROUTED).release_done_seconds
    assert result.unhealthy_noticed_seconds == START + 300


def test_service_without_a_target_group() -> None:
    # An internal service: ECS counts a task 40 s after RUNNING; nothing to deregister.
    internal = ServiceSettings(desired_count=3, stop_timeout=30)
    result = estimate(internal)
    assert result.task_ready_seconds == START + NO_LOAD_BALANCER_WAIT_SECONDS
    assert result.drain_seconds == 30
    assert result.release_done_seconds == START + 40 + 30
    assert result.unhealthy_noticed_seconds is None
    # With a container health check, its first pass admits the task instead.
    checked = estimate(dataclasses.replace(internal, container_check_interval=15))
    assert checked.task_ready_seconds == START + 15
    assert checked.unhealthy_noticed_seconds == START + 15


def test_target_groups_in_another_stack_give_a_lower_bound() -> None:
    result = estimate(dataclasses.replace(ROUTED, target_group=None))
    assert result.lower_bound
    assert (result.task_ready_seconds, result.drain_seconds) == (START, 30)
    assert span(result.release_live_seconds, result.release_done_seconds, True) == (
        f"≥{duration(START)} / ≥{duration(START + 30)}"
    )


# --- traffic-shifting strategies -------------------------------------------------------------


def test_canary_bakes_the_canary_then_the_whole() -> None:
    canary = dataclasses.replace(
        ROUTED, strategy="CANARY", canary_percent=10, canary_bake_minutes=10, bake_time_minutes=10
    )
    result = estimate(canary)
    # All green tasks at once, 10 min on the canary share, then all traffic: live; 10 min
    # of bake with both revisions running, then the old tasks drain: done.
    assert result.release_live_seconds == READY + 600
    assert result.release_done_seconds == READY + 600 + 600 + DRAIN
    assert (result.tasks_per_batch, result.batches) == (2, 1)
    # The old revision still runs: traffic goes back at once, the new tasks drain.
    assert (result.rollback_live_seconds, result.rollback_done_seconds) == (0, DRAIN)
    assert result.strategy == "canary"


def test_canary_of_everything_shifts_once() -> None:
    whole = dataclasses.replace(ROUTED, strategy="CANARY", canary_percent=100)
    assert estimate(whole).release_live_seconds == READY


@pytest.mark.parametrize(
    ("step", "bakes"),
    [(10.0, 9), (11.0, 9), (30.0, 3), (33.4, 2), (3.0, 33), (100.0, 0)],
)
def test_linear_bakes_between_steps_not_after_the_last(step: float, bakes: int) -> None:
    # ceil(100 / step) shifts, one bake fewer: 10 % -> 9, 11 % -> 9 (as CloudFormation counts).
    linear = dataclasses.replace(
        ROUTED, strategy="LINEAR", step_percent=step, step_bake_minutes=6, bake_time_minutes=5
    )
    result = estimate(linear)
    assert result.release_live_seconds == READY + bakes * 6 * 60
    assert result.release_done_seconds == READY + bakes * 360 + 300 + DRAIN


def test_blue_green_shifts_at_once_and_bakes() -> None:
    result = estimate(dataclasses.replace(ROUTED, strategy="BLUE_GREEN", bake_time_minutes=5))
    assert (result.release_live_seconds, result.release_done_seconds) == (
        READY,
        READY + 300 + DRAIN,
    )


def test_traffic_shift_time_is_an_assumption_counted_per_shift() -> None:
    canary = dataclasses.replace(ROUTED, strategy="CANARY", canary_bake_minutes=1)
    slow_shift = Assumptions(traffic_shift_seconds=5)
    assert estimate(canary, slow_shift).release_live_seconds == READY + 60 + 2 * 5
    assert estimate(canary, slow_shift).rollback_live_seconds == 5


def test_service_connect_canary_without_target_groups() -> None:
    # ECS shifts Service Connect traffic between revisions; no target group admits a task.
    mesh = ServiceSettings(
        strategy="CANARY",
        desired_count=2,
        service_connect=True,
        canary_percent=10,
        canary_bake_minutes=5,
        bake_time_minutes=5,
        stop_timeout=30,
    )
    result = estimate(mesh)
    assert result.release_live_seconds == START + NO_LOAD_BALANCER_WAIT_SECONDS + 300
    assert result.release_done_seconds == START + 40 + 300 + 300 + 30
    assert (result.rollback_live_seconds, result.rollback_done_seconds) == (0, 30)
    assert any("Service Connect" in note for note in result.notes)


def test_task_start_is_an_assumption() -> None:
    quick = Assumptions(task_start_seconds=30)
    assert estimate(ROUTED, quick).release_done_seconds == estimate(ROUTED).release_done_seconds - (
        START - 30
    )


# --- scale-out ------------------------------------------------------------------------------


def policy(metric: str, target: float, cooldown: int = 60) -> ScalingPolicySettings:
    return ScalingPolicySettings(metric=metric, target_value=target, scale_out_cooldown=cooldown)


def test_scale_out_on_cpu_multiplies_by_at_most_100_over_target() -> None:
    # CPU target 60: 2 -> ceil(2 * 100 / 60) = 4 -> ceil(6.7) capped at 6: two activities.
    # 3 one-minute datapoints, one cooldown (60 s), then the last tasks start and pass.
    result = scale_out(ScalingSettings(min_count=2, max_count=6, policies=(policy(CPU, 60),)), 100)
    assert result is not None
    assert (result.activities, result.seconds) == (2, 180 + 60 + 100)


def test_scale_out_takes_the_policy_that_gets_there_first() -> None:
    # Memory at 75: 2 -> 3 -> 4 -> 6, three activities; CPU at 60 needs two.
    memory_only = ScalingSettings(min_count=2, max_count=6, policies=(policy(MEMORY, 75),))
    both = dataclasses.replace(memory_only, policies=(policy(MEMORY, 75), policy(CPU, 60)))
    assert scale_out(memory_only, 100).activities == 3  # type: ignore[union-attr]
    fastest = scale_out(both, 100)
    assert fastest is not None and (fastest.activities, fastest.metric) == (2, CPU)


def test_scale_out_waits_for_the_cooldown() -> None:
    slow = ScalingSettings(min_count=2, max_count=6, policies=(policy(CPU, 60, cooldown=300),))
    assert scale_out(slow, 100).seconds == 180 + 300 + 100  # type: ignore[union-attr]


def test_scale_out_on_requests_reaches_max_at_once() -> None:
    requests = ScalingSettings(min_count=1, max_count=10, policies=(policy(REQUESTS, 500),))
    assert scale_out(requests, 70).seconds == 180 + 70  # type: ignore[union-attr]


def test_scale_out_that_cannot_happen() -> None:
    # A utilization target of 100 % asks for no more than the tasks it has.
    never = ScalingSettings(min_count=1, max_count=3, policies=(policy(CPU, 100),))
    assert scale_out(never, 70) is None
    result = estimate(dataclasses.replace(ROUTED, scaling=never))
    assert result.autoscaled and result.scale_out_seconds is None
    assert any("maxCount" in note for note in result.notes)
    fixed = ScalingSettings(min_count=2, max_count=2, policies=(policy(CPU, 60),))
    assert scale_out(fixed, 70).seconds == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m00s"), (1330, "22m10s"), (3600, "1h00m"), (None, "never")],
)
def test_duration(seconds: int | None, text: str) -> None:
    assert duration(seconds) == text


# --- what the rendered stacks hold ----------------------------------------------------------


def stack_services(stack: str) -> dict[str, dict[str, Any]]:
    return environment_document(stack).get("microservices:services") or {}


def stack_deployment(stack: str) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        environment_document(stack).get("microservices:deployment") or {}
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_settings_follow_the_stack_files(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    deployment = stack_deployment(stack)
    services = {s.inputs["name"]: s for s in rendering.of_type(ECS_SERVICE)}
    assert sorted(services) == sorted(CATALOG)
    for name, spec in CATALOG.items():
        raw = stack_services(stack).get(name) or {}
        config = ServiceConfig.model_validate(raw)
        wanted = rollout_settings(config)
        settings = settings_of(rendering, services[name])
        assert settings.strategy == STRATEGIES[wanted.strategy], name
        assert settings.desired_count == config.desired_count, name
        assert settings.stop_timeout == config.stop_timeout, name
        assert settings.minimum_healthy_percent == deployment.minimum_healthy_percent, name
        assert settings.maximum_percent == deployment.maximum_percent, name
        assert settings.load_balanced == bool(spec.routes), name
        if spec.routes:
            assert settings.target_group == TargetGroupSettings(
                interval=deployment.health_check_interval,
                healthy_threshold=deployment.healthy_threshold,
                unhealthy_threshold=deployment.unhealthy_threshold,
                deregistration_delay=deployment.deregistration_delay,
            ), name
            assert settings.health_check_grace_period == deployment.health_check_grace_period
        else:
            assert settings.target_group is None, name
        if wanted.strategy == "canary":
            assert settings.canary_percent == wanted.canary_percent
            assert settings.canary_bake_minutes == wanted.canary_bake_time_minutes
            assert settings.bake_time_minutes == wanted.bake_time_minutes
        band = config.autoscaling
        if band is None:
            assert settings.scaling is None, name
        else:
            assert settings.scaling is not None, name
            assert (settings.scaling.min_count, settings.scaling.max_count) == (
                band.min_count,
                band.max_count,
            ), name
            assert CPU in {p.metric for p in settings.scaling.policies}, name


def test_prod_canary_by_hand(prod: Rendering) -> None:
    raw = stack_services("prod").get("api-gateway") or {}
    wanted = rollout_settings(ServiceConfig.model_validate(raw))
    if wanted.strategy != "canary":
        pytest.skip("prod's api-gateway is not a canary")
    deployment = stack_deployment("prod")
    ready = START + deployment.health_check_interval
    live = ready + (wanted.canary_bake_time_minutes or 0) * 60
    drain = deployment.deregistration_delay + ServiceConfig.model_validate(raw).stop_timeout
    result = estimates(prod)["api-gateway"]
    assert result.release_live_seconds == live
    assert result.release_done_seconds == live + (wanted.bake_time_minutes or 0) * 60 + drain
    assert (result.rollback_live_seconds, result.rollback_done_seconds) == (0, drain)


# --- the preview, its document and the diff -------------------------------------------------


def releases_table(text: str) -> dict[str, list[str]]:
    block = text.split("\nReleases (", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = [line.strip().split("  ") for line in block[3:]]
    return {row[0]: [cell.strip() for cell in row if cell.strip()] for row in rows}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_shows_each_services_estimate(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    text = preview_text(rendering)
    assert "model and assumptions: docs/rollout.md" in text
    table = releases_table(text)
    assert sorted(table) == sorted(CATALOG)
    for name, result in estimates(rendering).items():
        row = table[name]
        assert row[1] == result.strategy
        assert row[2] == span(result.release_live_seconds, result.release_done_seconds)
        assert row[3] == span(result.rollback_live_seconds, result.rollback_done_seconds)
        assert row[4] == f"{result.tasks_per_batch} of {result.tasks}"
        if result.autoscaled:
            assert row[5].startswith(duration(result.scale_out_seconds)), name
        else:
            assert row[5] == "(fixed count)", name


def test_document_rows_carry_the_estimate(prod: Rendering) -> None:
    rows = {row["ecs_name"]: row for row in document.to_document(prod)["services"]}
    for name, result in estimates(prod).items():
        assert rows[name]["rollout"] == json.loads(json.dumps(dataclasses.asdict(result)))
    assert document.SCHEMA_VERSION == 3


def test_document_of_version_2_still_reads(tmp_path: Path, prod: Rendering) -> None:
    # A base branch saved its document before the estimates: it compares all the same.
    old = document.to_document(prod)
    old["schemaVersion"] = 2
    for row in old["services"]:
        del row["rollout"]
    saved = tmp_path / "v2.json"
    saved.write_text(json.dumps(old))
    loaded = document.load(saved)
    result = diff(loaded, prod)
    assert result.changed == () and result.rollout == ()


@pytest.fixture(scope="module")
def longer_stop(prod: Rendering) -> Rendering:
    raw = stack_services("prod").get("user-service") or {}
    stop = ServiceConfig.model_validate(raw).stop_timeout
    return render_with("prod", [("services.user-service.stopTimeout", str(stop + 30))])


def test_diff_says_when_a_release_gets_slower(prod: Rendering, longer_stop: Rendering) -> None:
    result = diff(prod, longer_stop)
    before = estimates(prod)["user-service"]
    # 30 s more to stop each old task: done later, live as before, for release and rollback.
    assert {(c.service, c.measure, c.new - c.old) for c in result.rollout} == {  # type: ignore[operator]
        ("user-service", "release done", 30),
        ("user-service", "rollback done", 30),
    }
    assert all(c.slower for c in result.rollout)
    done = before.release_done_seconds
    assert done is not None
    text = format_text(result, "prod", "head")
    assert (
        "Release and scale-out time (estimated, docs/rollout.md):\n"
        f"! user-service: release done {duration(done)} → {duration(done + 30)} (slower)\n"
    ) in text
    markdown = format_markdown(result, "prod", "head")
    assert "#### Release and scale-out time (estimated, docs/rollout.md)" in markdown
    assert (
        f"| `user-service` | release done | {duration(done)} | {duration(done + 30)} | ⚠️ slower |"
    ) in markdown


def test_diff_of_a_quicker_release_is_not_flagged(prod: Rendering, longer_stop: Rendering) -> None:
    result = diff(longer_stop, prod)
    assert result.rollout and not any(c.slower for c in result.rollout)
    text = format_text(result, "head", "prod")
    assert "! user-service" not in text and "  user-service: release done" in text


def test_diff_without_a_timing_change_says_nothing(prod: Rendering) -> None:
    variable = render_with("prod", [("services.order-service.environment.FEATURE", "on")])
    result = diff(prod, variable)
    assert result.changed and result.rollout == ()
    assert "Release and scale-out time" not in format_text(result, "prod", "head")


def test_diff_says_how_a_wider_band_moves_the_scale_out(prod: Rendering) -> None:
    raw = stack_services("prod").get("order-service") or {}
    band = ServiceConfig.model_validate(raw).autoscaling
    assert band is not None
    wider = render_with(
        "prod", [("services.order-service.autoscaling.maxCount", str(band.max_count * 3))]
    )
    result = diff(prod, wider)
    before, after = estimates(prod)["order-service"], estimates(wider)["order-service"]
    assert before.scale_out_seconds is not None and after.scale_out_seconds is not None
    assert after.scale_out_seconds > before.scale_out_seconds  # more steps to the top
    (change,) = result.rollout
    assert (change.service, change.measure, change.slower) == ("order-service", "scale out", True)
    assert (
        f"! order-service: scale out {duration(before.scale_out_seconds)} → "
        f"{duration(after.scale_out_seconds)} (slower)\n"
    ) in format_text(result, "prod", "head")


def test_estimate_fields_are_documented() -> None:
    # The JSON schema names each field the document carries.
    schema = json.loads(document.SCHEMA_PATH.read_text())
    documented = set(schema["$defs"]["rollout"]["properties"])
    assert documented == {f.name for f in dataclasses.fields(RolloutEstimate)}


def test_a_fixed_count_has_no_scale_out() -> None:
    stack = environment_document("dev")
    fixed = render_document("dev", config_rm_path(stack, "services.user-service.autoscaling"))
    result = estimates(fixed)["user-service"]
    assert not result.autoscaled and result.scale_out_seconds is None
    assert releases_table(preview_text(fixed))["user-service"][5] == "(fixed count)"
