"""How long an ECS service takes to release, to roll back and to scale out: a model of plain
arithmetic over a service's deployment settings, with no Pulumi in it.

EcsService uses it to bound how long `pulumi up` waits for a release (its custom timeouts);
`offline/estimates/rollout.py` reads the same settings from a rendered stack for the preview and the
diff. The model, each term, its sources and what it cannot see are in docs/rollout.md. Facts
AWS documents cite their page; numbers AWS does not publish are the assumptions below, each
named as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

STRATEGY_NAMES = {
    "ROLLING": "rolling",
    "BLUE_GREEN": "blueGreen",
    "LINEAR": "linear",
    "CANARY": "canary",
}

# --- assumptions: numbers AWS does not publish ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    task_start_seconds: int = 60
    """From the scheduler's decision to the application listening: Fargate launches the
    task's own instance, attaches its network interface, pulls the whole image (Fargate
    caches no image: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html)
    and the application starts. AWS publishes no figure; its re:Post answer calls 30-45 s
    "or longer" normal
    (https://www.repost.aws/ja/questions/QUjZAzJd27SZWxXM7MgyxOZw/how-to-speed-up-provisioning-of-ecs-fargate-task).
    60 s is an assumption for the small images built here."""
    traffic_shift_seconds: int = 0
    """A change of the listener rule's weights takes effect at once (assumed; AWS gives no
    latency for it)."""
    scale_out_datapoints: int = 3
    """One-minute datapoints above target before the scale-out alarm of a target tracking
    policy fires. The Application Auto Scaling guides give no number; 3 is what the alarms
    it creates are observed to use (AlarmHigh 3 of 3, AlarmLow 15 of 15:
    https://github.com/aws-samples/amazon-aurora-labs-for-mysql/issues/3). Unverified in
    AWS's own documentation."""
    utilization_ceiling_percent: int = 100
    """The most a saturated task reports for CPU or memory utilization (assumed: Fargate
    caps a task at its size). Target tracking scales out in proportion to the metric
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-autoscaling-targettracking.html),
    so one scale-out multiplies the count by at most ceiling / target."""


ASSUMPTIONS = Assumptions()

# --- documented numbers ---------------------------------------------------------------------

# A task of a service without a load balancer and without a container health check counts as
# healthy 40 s after it reaches RUNNING
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).
NO_LOAD_BALANCER_WAIT_SECONDS = 40
# Fargate's stop timeout when a container sets none
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html).
DEFAULT_STOP_TIMEOUT_SECONDS = 30
# A container health check's interval when it sets none
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).
DEFAULT_CONTAINER_CHECK_INTERVAL_SECONDS = 30
# pulumi-aws `lb.TargetGroup` defaults (the provider's docstrings): healthCheck.interval 30,
# healthyThreshold 3, unhealthyThreshold 3, deregistrationDelay 300.
DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS = 30
DEFAULT_HEALTHY_THRESHOLD = 3
DEFAULT_UNHEALTHY_THRESHOLD = 3
DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300
# A replica service's deployment defaults: minimumHealthyPercent 100, maximumPercent 200
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).
DEFAULT_MINIMUM_HEALTHY_PERCENT = 100
DEFAULT_MAXIMUM_PERCENT = 200
# ECS's defaults for the traffic-shifting strategies: canaryPercent 5.0, canaryBakeTimeInMinutes
# 10 (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html);
# stepPercent 10.0, stepBakeTimeInMinutes 6
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html).
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_CANARY_BAKE_MINUTES = 10
DEFAULT_STEP_PERCENT = 10.0
DEFAULT_STEP_BAKE_MINUTES = 6
# ECS publishes service CPU and memory utilization in one-minute periods
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html); an
# alarm with an Auto Scaling action keeps invoking it while it stays in ALARM
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html).
METRIC_PERIOD_SECONDS = 60
# Metrics that stop at 100 % when a task is saturated, and one that does not.
UTILIZATION_METRICS = frozenset(
    {"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}
)
REQUEST_METRICS = frozenset({"ALBRequestCountPerTarget"})


# --- settings: what the model reads ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TargetGroupSettings:
    interval: int = DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS
    healthy_threshold: int = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = DEFAULT_UNHEALTHY_THRESHOLD
    deregistration_delay: int = DEFAULT_DEREGISTRATION_DELAY_SECONDS


@dataclass(frozen=True, kw_only=True)
class ScalingPolicySettings:
    metric: str
    """The predefined metric type, e.g. ECSServiceAverageCPUUtilization."""
    target_value: float
    scale_out_cooldown: int = 300
    """Application Auto Scaling's default for ECS services
    (https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html)."""


@dataclass(frozen=True, kw_only=True)
class ScalingSettings:
    min_count: int
    max_count: int
    policies: tuple[ScalingPolicySettings, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    strategy: str = "ROLLING"
    """ROLLING, BLUE_GREEN, LINEAR or CANARY, as ECS names them."""
    desired_count: int = 1
    minimum_healthy_percent: int = DEFAULT_MINIMUM_HEALTHY_PERCENT
    maximum_percent: int = DEFAULT_MAXIMUM_PERCENT
    load_balanced: bool = False
    """Behind a load balancer: tasks count as healthy once a target group says so."""
    target_group: TargetGroupSettings | None = None
    """None behind a load balancer means its target groups are in another stack."""
    health_check_grace_period: int = 0
    container_check_interval: int | None = None
    """The interval of the essential containers' health check; None: they have none."""
    stop_timeout: int = DEFAULT_STOP_TIMEOUT_SECONDS
    bake_time_minutes: int = 0
    canary_percent: float = DEFAULT_CANARY_PERCENT
    canary_bake_minutes: int = DEFAULT_CANARY_BAKE_MINUTES
    step_percent: float = DEFAULT_STEP_PERCENT
    step_bake_minutes: int = DEFAULT_STEP_BAKE_MINUTES
    service_connect: bool = False
    scaling: ScalingSettings | None = None
    notes: tuple[str, ...] = ()
    """What the settings hold that the model does not count."""


# --- estimates ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Timeline:
    live: int
    """Seconds until the new revision takes all traffic (the last old task is deregistered)."""
    done: int
    """Seconds until the deployment completes: the old tasks have stopped."""
    tasks_per_batch: int
    """Tasks started at once, in the first batch."""
    batches: int


@dataclass(frozen=True, kw_only=True)
class ScaleOut:
    seconds: int
    activities: int
    """Scaling activities from minCount to maxCount."""
    metric: str
    """The policy's metric that gets there first."""


@dataclass(frozen=True, kw_only=True)
class RolloutEstimate:
    strategy: str
    """rolling, blueGreen, linear or canary."""
    tasks: int
    """The desired count the estimate is for."""
    release_live_seconds: int | None
    """Until the new revision takes all traffic; None: the deployment cannot progress."""
    release_done_seconds: int | None
    """Until the old revision's tasks have stopped (what `pulumi up` waits for)."""
    rollback_live_seconds: int | None
    """From the rollback's start until the previous revision takes all traffic again."""
    rollback_done_seconds: int | None
    """From the rollback's start until the failed revision's tasks have stopped."""
    tasks_per_batch: int
    batches: int
    task_ready_seconds: int
    """Task start plus the health check that admits it."""
    drain_seconds: int
    """Deregistration delay plus stop timeout."""
    unhealthy_noticed_seconds: int | None
    """The earliest ECS acts on a new task that never turns healthy; None without a health
    check (only a task that exits is noticed)."""
    scale_out_seconds: int | None
    """From load above target until maxCount tasks are healthy; None without autoscaling."""
    scale_out_activities: int | None
    autoscaled: bool = False
    """The service has a scalable target; without one it keeps its count."""
    lower_bound: bool = False
    """Some terms are in another stack (a service stack's target groups): at least this."""
    notes: tuple[str, ...] = field(default_factory=tuple)


def task_ready_seconds(settings: ServiceSettings, assumptions: Assumptions = ASSUMPTIONS) -> int:
    """Task start, then the health check that admits a new task. A newly registered target
    needs one passing check whatever its healthy threshold (the threshold counts only for a
    target that recovers: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-healthcheck.html),
    so at most one interval. Behind a load balancer ECS waits for both the target group and
    the container health check; without one, for the container check or else 40 s
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).
    The grace period delays none of this: it only makes ECS ignore failing checks."""
    container = settings.container_check_interval or 0
    if settings.load_balanced:
        target = settings.target_group.interval if settings.target_group else 0
        wait = max(target, container)
    else:
        wait = container if settings.container_check_interval else NO_LOAD_BALANCER_WAIT_SECONDS
    return assumptions.task_start_seconds + wait


def drain_seconds(settings: ServiceSettings) -> int:
    """ECS deregisters a task, waits for the target group's deregistration delay (the target
    is UNUSED), then stops it: SIGTERM, and SIGKILL after the stop timeout
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html).
    The stop timeout is the most it takes; an application that exits on SIGTERM is quicker."""
    delay = settings.target_group.deregistration_delay if settings.target_group else 0
    return delay + settings.stop_timeout


def unhealthy_noticed_seconds(
    settings: ServiceSettings, assumptions: Assumptions = ASSUMPTIONS
) -> int | None:
    """The target group marks a target unhealthy after `unhealthyThreshold` failed checks, and
    ECS ignores that until the grace period has passed
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html,
    healthCheckGracePeriodSeconds)."""
    if settings.load_balanced and settings.target_group is not None:
        tg = settings.target_group
        failing = tg.unhealthy_threshold * tg.interval
        return assumptions.task_start_seconds + max(settings.health_check_grace_period, failing)
    if settings.container_check_interval:
        return assumptions.task_start_seconds + max(
            settings.health_check_grace_period, settings.container_check_interval
        )
    return None


def rolling_timeline(
    count: int, minimum_healthy_percent: int, maximum_percent: int, ready: int, drain: int
) -> Timeline | None:
    """A rolling update, event by event. ECS keeps at least ceil(count * minimum / 100) tasks
    healthy and at most floor(count * maximum / 100) running or pending
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html); a
    task being drained still runs. It stops old tasks whenever the healthy ones allow, and
    starts new ones whenever the maximum allows. None: the two percentages leave no room
    (e.g. 100 % and 100 %)."""
    if count <= 0:
        return Timeline(live=0, done=0, tasks_per_batch=0, batches=0)
    most_running = count * maximum_percent // 100
    least_healthy = -(-count * minimum_healthy_percent // 100)
    old, healthy_new = count, 0
    starting: list[int] = []  # when each starting task turns healthy
    stopping: list[int] = []  # when each stopping task is gone
    now, live, batches, first = 0, None, 0, 0
    for _ in range(4 * count + 4):  # each pass handles at least one event
        spare = min(old, old + healthy_new - least_healthy)
        if spare > 0:
            old -= spare
            stopping += [now + drain] * spare
        running = old + len(stopping) + len(starting) + healthy_new
        start = min(most_running - running, count - healthy_new - len(starting))
        if start > 0:
            starting += [now + ready] * start
            batches += 1
            first = first or start
        if live is None and old == 0 and healthy_new == count:
            live = now
        if live is not None and not stopping:
            return Timeline(live=live, done=now, tasks_per_batch=first, batches=batches)
        if not starting and not stopping:
            return None
        now = min(starting + stopping)
        healthy_new += sum(1 for t in starting if t <= now)
        starting = [t for t in starting if t > now]
        stopping = [t for t in stopping if t > now]
    raise AssertionError("a rolling update took more passes than it has events")


def shifting_wait_seconds(settings: ServiceSettings) -> tuple[int, int]:
    """(traffic shifts, seconds baked between them) before all production traffic is on the
    new revision. Canary: the canary share, its bake, then the rest
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html).
    Linear: equal steps, a step bake between them but none after the last
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html):
    ceil(100 / step) shifts, one bake fewer, as CloudFormation counts them
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-linearconfiguration.html).
    Blue/green: one shift."""
    if settings.strategy == "CANARY":
        if settings.canary_percent >= 100:
            return 1, 0
        return 2, settings.canary_bake_minutes * 60
    if settings.strategy == "LINEAR":
        shifts = math.ceil(Fraction(100) / Fraction(str(settings.step_percent)))
        return shifts, (shifts - 1) * settings.step_bake_minutes * 60
    return 1, 0


def shifting_timeline(
    settings: ServiceSettings, ready: int, drain: int, assumptions: Assumptions = ASSUMPTIONS
) -> Timeline:
    """Blue/green, linear and canary: ECS scales the new (green) revision up to the full
    count at once, shifts production traffic, bakes with both revisions running, then
    stops the old (blue) one (lifecycle stages SCALE_UP ... BAKE_TIME, CLEAN_UP:
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html;
    bake time: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html)."""
    shifts, baking = shifting_wait_seconds(settings)
    live = ready + baking + shifts * assumptions.traffic_shift_seconds
    done = live + settings.bake_time_minutes * 60 + drain
    count = settings.desired_count
    return Timeline(live=live, done=done, tasks_per_batch=count, batches=1 if count else 0)


def scale_out_activities(
    min_count: int, max_count: int, policy: ScalingPolicySettings, ceiling_percent: int
) -> int | None:
    """Scaling activities from min to max when the load needs max. A utilization metric
    saturates at the ceiling, so each activity multiplies the count by at most ceiling /
    target, rounded up; a request count per target does not, so one activity reaches max.
    None: the metric cannot ask for more (target at or above the ceiling), or is unknown."""
    if max_count <= min_count:
        return 0
    if policy.metric in REQUEST_METRICS:
        return 1
    if policy.metric not in UTILIZATION_METRICS:
        return None
    factor = Fraction(ceiling_percent) / Fraction(str(policy.target_value))
    count, activities = min_count, 0
    while count < max_count:
        grown = min(max_count, math.ceil(count * factor))
        if grown <= count:
            return None
        count, activities = grown, activities + 1
    return activities


def scale_out(
    scaling: ScalingSettings, ready: int, assumptions: Assumptions = ASSUMPTIONS
) -> ScaleOut | None:
    """Load rises at once to what maxCount tasks carry at target. The first scale-out waits
    for the alarm's datapoints; each further one for the scale-out cooldown (at least one
    metric period: the alarm re-invokes the policy each period while in ALARM); the last
    activity's tasks must then start and pass their health check. With several policies
    the one asking for the most capacity wins
    (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html),
    so the fastest counts. None: no policy can reach maxCount under this model."""
    if scaling.max_count <= scaling.min_count:
        return ScaleOut(seconds=0, activities=0, metric="-")
    best: ScaleOut | None = None
    for policy in scaling.policies:
        activities = scale_out_activities(
            scaling.min_count, scaling.max_count, policy, assumptions.utilization_ceiling_percent
        )
        if activities is None:
            continue
        seconds = (
            assumptions.scale_out_datapoints * METRIC_PERIOD_SECONDS
            + (activities - 1) * max(policy.scale_out_cooldown, METRIC_PERIOD_SECONDS)
            + ready
        )
        if best is None or seconds < best.seconds:
            best = ScaleOut(seconds=seconds, activities=activities, metric=policy.metric)
    return best


def estimate(settings: ServiceSettings, assumptions: Assumptions = ASSUMPTIONS) -> RolloutEstimate:
    """Release, rollback and scale-out of one service.

    Rolling: the release is `rolling_timeline`; a rollback redeploys the last completed
    revision the same way (circuit breaker or alarm rollback:
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html),
    so it takes as long. Blue/green, linear, canary: the old revision keeps running until the
    bake time ends, so a rollback moves traffic back at once and then stops the new tasks
    (canary's "roll back quickly":
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html)."""
    ready = task_ready_seconds(settings, assumptions)
    drain = drain_seconds(settings)
    notes = list(settings.notes)
    lower_bound = settings.load_balanced and settings.target_group is None
    if lower_bound:
        notes.append(
            "its target groups are in another stack: their health check and deregistration "
            "delay are not counted"
        )
    if settings.strategy == "ROLLING":
        release = rolling_timeline(
            settings.desired_count,
            settings.minimum_healthy_percent,
            settings.maximum_percent,
            ready,
            drain,
        )
        rollback = release
        if release is None:
            notes.append(
                "minimumHealthyPercent and maximumPercent leave no room to start or stop a task"
            )
    else:
        release = shifting_timeline(settings, ready, drain, assumptions)
        rollback = Timeline(
            live=assumptions.traffic_shift_seconds,
            done=assumptions.traffic_shift_seconds + drain,
            tasks_per_batch=0,
            batches=0,
        )
        if not settings.load_balanced:
            notes.append(
                "traffic moves through Service Connect's proxies: their drain is not counted"
                if settings.service_connect
                else "no load balancer or Service Connect: ECS shifts no traffic"
            )
    scaled = (
        scale_out(settings.scaling, ready, assumptions) if settings.scaling is not None else None
    )
    if settings.scaling is not None and scaled is None:
        notes.append("no scaling policy reaches maxCount under the model")
    return RolloutEstimate(
        strategy=STRATEGY_NAMES.get(settings.strategy, settings.strategy),
        tasks=settings.desired_count,
        release_live_seconds=release.live if release else None,
        release_done_seconds=release.done if release else None,
        rollback_live_seconds=rollback.live if rollback else None,
        rollback_done_seconds=rollback.done if rollback else None,
        tasks_per_batch=release.tasks_per_batch if release else 0,
        batches=release.batches if release else 0,
        task_ready_seconds=ready,
        drain_seconds=drain,
        unhealthy_noticed_seconds=unhealthy_noticed_seconds(settings, assumptions),
        scale_out_seconds=scaled.seconds if scaled else None,
        scale_out_activities=scaled.activities if scaled else None,
        autoscaled=settings.scaling is not None,
        lower_bound=lower_bound,
        notes=tuple(notes),
    )
