"""How long each ECS service takes to release, to roll back and to scale out, estimated
offline from the rendered resources.

`settings_of` reads what the model needs from a rendering (the service, its task definition,
target groups and scaling policies); the model itself, plain arithmetic over those settings, is
`components/compute/release_time.py`, which EcsService also uses to bound its wait for a release.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from components.compute.release_time import (
    ASSUMPTIONS,
    DEFAULT_CANARY_BAKE_MINUTES,
    DEFAULT_CANARY_PERCENT,
    DEFAULT_CONTAINER_CHECK_INTERVAL_SECONDS,
    DEFAULT_DEREGISTRATION_DELAY_SECONDS,
    DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
    DEFAULT_HEALTHY_THRESHOLD,
    DEFAULT_MAXIMUM_PERCENT,
    DEFAULT_MINIMUM_HEALTHY_PERCENT,
    DEFAULT_STEP_BAKE_MINUTES,
    DEFAULT_STEP_PERCENT,
    DEFAULT_STOP_TIMEOUT_SECONDS,
    DEFAULT_UNHEALTHY_THRESHOLD,
    Assumptions,
    RolloutEstimate,
    ScalingPolicySettings,
    ScalingSettings,
    ServiceSettings,
    TargetGroupSettings,
    estimate,
)
from offline.render.harness import RecordedResource, Rendering

ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"


# --- reading the rendered resources ---------------------------------------------------------

_REFERENCE = re.compile(r"\$\{(.+)\.([A-Za-z0-9_]+)\}")


def _int(value: Any, default: int) -> int:
    """A number as the provider takes it: an int, or digits in a string (bake minutes)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return default


def _float(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError):
        return default


def _referenced(rendering: Rendering, value: Any, type_: str) -> RecordedResource | None:
    """The resource a `${name.attribute}` input reads, if it is in this rendering."""
    match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    found = [r for r in rendering.of_type(type_) if r.name == match.group(1)]
    return found[0] if len(found) == 1 else None


def _target_groups(groups: list[RecordedResource]) -> TargetGroupSettings | None:
    """The slower of the service's target groups (primary and alternate)."""
    if not groups:
        return None
    checks = [g.inputs.get("healthCheck") or {} for g in groups]
    return TargetGroupSettings(
        interval=max(
            _int(c.get("interval"), DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS) for c in checks
        ),
        healthy_threshold=max(
            _int(c.get("healthyThreshold"), DEFAULT_HEALTHY_THRESHOLD) for c in checks
        ),
        unhealthy_threshold=max(
            _int(c.get("unhealthyThreshold"), DEFAULT_UNHEALTHY_THRESHOLD) for c in checks
        ),
        deregistration_delay=max(
            _int(g.inputs.get("deregistrationDelay"), DEFAULT_DEREGISTRATION_DELAY_SECONDS)
            for g in groups
        ),
    )


def _containers(task: RecordedResource | None) -> list[dict[str, Any]]:
    if task is None:
        return []
    try:
        containers = json.loads(task.inputs.get("containerDefinitions") or "[]")
    except (TypeError, ValueError):
        return []
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def _scaling(rendering: Rendering, service: RecordedResource) -> ScalingSettings | None:
    """The service's scalable target (a sibling of the service) and its target tracking
    policies (those on the same resource id)."""
    targets = [
        t
        for t in rendering.of_type(SCALABLE_TARGET)
        if t.parent == service.parent
        and t.inputs.get("scalableDimension") == "ecs:service:DesiredCount"
    ]
    if len(targets) != 1:
        return None
    target = targets[0].inputs
    policies = []
    for policy in rendering.of_type(SCALING_POLICY):
        if policy.parent != service.parent or policy.inputs.get("policyType") != (
            "TargetTrackingScaling"
        ):
            continue
        if policy.inputs.get("resourceId") != target.get("resourceId"):
            continue
        tracking = policy.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
        metric = (tracking.get("predefinedMetricSpecification") or {}).get(
            "predefinedMetricType", "custom"
        )
        policies.append(
            ScalingPolicySettings(
                metric=str(metric),
                target_value=_float(tracking.get("targetValue"), 0.0) or 1.0,
                scale_out_cooldown=_int(tracking.get("scaleOutCooldown"), 300),
            )
        )
    return ScalingSettings(
        min_count=_int(target.get("minCapacity"), 0),
        max_count=_int(target.get("maxCapacity"), 0),
        policies=tuple(sorted(policies, key=lambda p: p.metric)),
    )


def settings_of(rendering: Rendering, service: RecordedResource) -> ServiceSettings:
    """What the model reads from an `aws:ecs/service:Service` and the resources it names."""
    ecs = service.inputs
    configuration = ecs.get("deploymentConfiguration") or {}
    notes: list[str] = []
    balancers = [b for b in ecs.get("loadBalancers") or [] if isinstance(b, dict)]
    groups: list[RecordedResource] = []
    for balancer in balancers:
        advanced = balancer.get("advancedConfiguration") or {}
        for arn in (balancer.get("targetGroupArn"), advanced.get("alternateTargetGroupArn")):
            group = _referenced(rendering, arn, TARGET_GROUP)
            if group is not None and group not in groups:
                groups.append(group)
    task = _referenced(rendering, ecs.get("taskDefinition"), TASK_DEFINITION)
    containers = _containers(task)
    checks = [
        _int((c.get("healthCheck") or {}).get("interval"), DEFAULT_CONTAINER_CHECK_INTERVAL_SECONDS)
        for c in containers
        if c.get("essential", True) and c.get("healthCheck")
    ]
    if any(c.get("dependsOn") for c in containers):
        notes.append("a container waits for another first: that one's run time is not counted")
    if configuration.get("lifecycleHooks"):
        notes.append("lifecycle hooks run during the release: their time is not counted")
    canary = configuration.get("canaryConfiguration") or {}
    linear = configuration.get("linearConfiguration") or {}
    return ServiceSettings(
        strategy=str(configuration.get("strategy") or "ROLLING"),
        desired_count=_int(ecs.get("desiredCount"), 0),
        minimum_healthy_percent=_int(
            ecs.get("deploymentMinimumHealthyPercent", configuration.get("minimumHealthyPercent")),
            DEFAULT_MINIMUM_HEALTHY_PERCENT,
        ),
        maximum_percent=_int(
            ecs.get("deploymentMaximumPercent", configuration.get("maximumPercent")),
            DEFAULT_MAXIMUM_PERCENT,
        ),
        load_balanced=bool(balancers),
        target_group=_target_groups(groups),
        health_check_grace_period=_int(ecs.get("healthCheckGracePeriodSeconds"), 0),
        container_check_interval=max(checks) if checks else None,
        stop_timeout=max(
            (_int(c.get("stopTimeout"), DEFAULT_STOP_TIMEOUT_SECONDS) for c in containers),
            default=DEFAULT_STOP_TIMEOUT_SECONDS,
        ),
        bake_time_minutes=_int(configuration.get("bakeTimeInMinutes"), 0),
        canary_percent=_float(canary.get("canaryPercent"), DEFAULT_CANARY_PERCENT),
        canary_bake_minutes=_int(
            canary.get("canaryBakeTimeInMinutes"), DEFAULT_CANARY_BAKE_MINUTES
        ),
        step_percent=_float(linear.get("stepPercent"), DEFAULT_STEP_PERCENT),
        step_bake_minutes=_int(linear.get("stepBakeTimeInMinutes"), DEFAULT_STEP_BAKE_MINUTES),
        service_connect=bool((ecs.get("serviceConnectConfiguration") or {}).get("enabled")),
        scaling=_scaling(rendering, service),
        notes=tuple(notes),
    )


def service_estimate(
    rendering: Rendering, service: RecordedResource, assumptions: Assumptions = ASSUMPTIONS
) -> RolloutEstimate:
    return estimate(settings_of(rendering, service), assumptions)


# --- presentation ---------------------------------------------------------------------------


def duration(seconds: int | None) -> str:
    """`45s`, `1m10s`, `1h02m`; `never` for a deployment that cannot progress."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def span(live: int | None, done: int | None, lower_bound: bool = False) -> str:
    """`live / done`, with `≥` when some terms are not known here."""
    prefix = "≥" if lower_bound else ""
    return f"{prefix}{duration(live)} / {prefix}{duration(done)}"


# --- a change's effect (`python -m offline diff`) -------------------------------------------

MEASURES = (
    ("release live", "release_live_seconds"),
    ("release done", "release_done_seconds"),
    ("rollback live", "rollback_live_seconds"),
    ("rollback done", "rollback_done_seconds"),
    ("scale out", "scale_out_seconds"),
)


@dataclass(frozen=True, kw_only=True)
class RolloutChange:
    service: str
    """The ECS service's name."""
    measure: str
    """`release live`, `release done`, `rollback live`, `rollback done` or `scale out`."""
    old: int | None
    new: int | None
    """Seconds; None: the deployment cannot progress (for `scale out`: the service does not
    scale out)."""

    @property
    def slower(self) -> bool:
        if self.new is None or self.old is None:
            return self.new is None and self.old is not None
        return self.new > self.old


def estimates(rendering: Rendering) -> dict[str, RolloutEstimate]:
    """Each ECS service's estimate, by the service's name."""
    return {
        str(service.inputs.get("name") or service.name): service_estimate(rendering, service)
        for service in rendering.of_type(ECS_SERVICE)
    }


def compare(base: Rendering, head: Rendering) -> tuple[RolloutChange, ...]:
    """The estimates that differ between two renderings, for the services both run."""
    before, after = estimates(base), estimates(head)
    return tuple(
        RolloutChange(service=name, measure=label, old=old, new=new)
        for name in sorted(set(before) & set(after))
        for label, attribute in MEASURES
        if (old := getattr(before[name], attribute)) != (new := getattr(after[name], attribute))
    )


def _verdict(change: RolloutChange) -> str:
    return "slower" if change.slower else "faster"


def change_text(changes: tuple[RolloutChange, ...]) -> list[str]:
    """The diff's text lines: `!` marks a release, rollback or scale-out that gets slower."""
    if not changes:
        return []
    return [
        "Release and scale-out time (estimated, docs/rollout.md):",
        *(
            f"{'!' if c.slower else ' '} {c.service}: {c.measure} {duration(c.old)} → "
            f"{duration(c.new)} ({_verdict(c)})"
            for c in changes
        ),
        "",
    ]


def change_markdown(changes: tuple[RolloutChange, ...]) -> list[str]:
    if not changes:
        return []
    return [
        "#### Release and scale-out time (estimated, docs/rollout.md)",
        "",
        "| service | estimate | before | after | |",
        "|---|---|---|---|---|",
        *(
            f"| `{c.service}` | {c.measure} | {duration(c.old)} | {duration(c.new)} "
            f"| {'⚠️ slower' if c.slower else 'faster'} |"
            for c in changes
        ),
        "",
    ]
