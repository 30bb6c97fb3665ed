"""What AWS receives on a release, a revert and a switch, on the rendered stacks: the data a
task role can reach under its table's key, image tags under immutable repositories, ARM64
off Fargate Spot, a canary judged per target group, and a production stack that says its
alarms reach nobody."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import yaml

from components.compute import release_time
from components.compute.ecs_service import (
    PROVIDER_DEFAULT_WAIT_MINUTES,
    RELEASE_WAIT_FACTOR,
    RELEASE_WAIT_SLACK_SECONDS,
    release_wait_minutes,
    serving_group,
)
from components.compute.image import PLATFORMS
from components.data.table import ITEM_ACTIONS, KEY_ACTIONS
from config.calls import callers_of
from offline.change import diff, format_markdown, format_text, show_value
from offline.estimates import cost, rollout
from offline.preview.report import preview_text
from offline.render import harness
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering
from offline.render.stackfile import PROJECT_DIR, config_rm_path, config_set_path, project_name
from services import CATALOG
from tests.conftest import ecs_service, render_document, render_with
from tests.metric_math import alarm_value
from tests.test_policies import _policy_resources, rendered_violations, run_stack
from tests.test_workflows import load, uses

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


def test_the_preview_says_who_hears_the_alarms(prod: Rendering) -> None:
    alarms = len(prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
    subscribed = [
        s
        for s in prod.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["protocol"] == "email"
    ]
    nobody = (
        f"Alarm notifications: nobody (alerts.emails is empty): the {alarms} alarms act only "
        "through the release rollbacks they trigger; to hear them: pulumi config set --path "
        "'alerts.emails[0]' ops@<your-domain>\n"
    )
    assert (nobody in preview_text(prod)) is not bool(subscribed)
    told = render_with("prod", [("alerts.emails[0]", "ops@example.com")])
    text = preview_text(told)
    assert nobody not in text
    assert f"Alarm notifications: {alarms} alarms to 1 address(es)" in text


# --- 2. releases longer than the provider's wait ---------------------------------------------


def _at_most_tasks(settings: release_time.ServiceSettings) -> release_time.ServiceSettings:
    band = settings.scaling
    most = max(settings.desired_count, band.max_count if band is not None else 0)
    return dataclasses.replace(settings, desired_count=most)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_service_waits_for_its_release_and_rollback(stack: str, request: Any) -> None:
    rendering: Rendering = request.getfixturevalue(stack)
    for service in rendering.of_type("aws:ecs/service:Service"):
        settings = _at_most_tasks(rollout.settings_of(rendering, service))
        estimate = release_time.estimate(settings)
        worst = (estimate.release_done_seconds or 0) + (estimate.rollback_done_seconds or 0)
        timeouts = service.custom_timeouts
        assert set(timeouts) == {"create", "update"}, service.name
        assert timeouts["create"] == timeouts["update"]
        minutes = int(timeouts["update"].removesuffix("m"))
        assert minutes * 60 >= worst * RELEASE_WAIT_FACTOR + RELEASE_WAIT_SLACK_SECONDS
        assert minutes >= PROVIDER_DEFAULT_WAIT_MINUTES
        # What the component computes from its arguments is what the preview reads back.
        assert minutes == release_wait_minutes(settings), service.name


def test_a_canary_longer_than_the_provider_default_gets_a_longer_wait(prod: Rendering) -> None:
    shifting = [
        s
        for s in prod.of_type("aws:ecs/service:Service")
        if s.inputs["deploymentConfiguration"]["strategy"] != "ROLLING"
    ]
    assert shifting, "prod releases a service with traffic shifting"
    for service in shifting:
        estimate = release_time.estimate(_at_most_tasks(rollout.settings_of(prod, service)))
        assert (estimate.release_done_seconds or 0) > PROVIDER_DEFAULT_WAIT_MINUTES * 60
        minutes = int(service.custom_timeouts["update"].removesuffix("m"))
        assert minutes * 60 > (estimate.release_done_seconds or 0)


# --- 3. what leaving canary sends ----------------------------------------------------------


STRATEGY_VARIANTS = [
    ("rolling", {"strategy": "ROLLING"}),
    ("blueGreen", {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}),
    ("linear", {"strategy": "LINEAR", "bakeTimeInMinutes": "5"}),
    ("canary", {"strategy": "CANARY", "bakeTimeInMinutes": "5"}),
]


def _shifting_service(prod: Rendering) -> str:
    for service in prod.of_type("aws:ecs/service:Service"):
        if service.inputs["deploymentConfiguration"]["strategy"] != "ROLLING":
            return str(service.inputs["name"])
    raise AssertionError("prod releases a service with traffic shifting")


@pytest.mark.parametrize(("strategy", "expected"), STRATEGY_VARIANTS)
def test_every_strategy_is_sent_rolling_included(
    prod: Rendering, strategy: str, expected: dict[str, Any]
) -> None:
    name = _shifting_service(prod)
    rendering = render_document("prod", _with_strategy(name, strategy))
    service = ecs_service(rendering, name).inputs
    sent = service["deploymentConfiguration"]
    assert {k: v for k, v in sent.items() if k in expected} == expected
    assert service["deploymentController"] == {"type": "ECS"}
    assert ("canaryConfiguration" in sent) is (strategy == "canary")
    assert ("linearConfiguration" in sent) is (strategy == "linear")


def _with_strategy(name: str, strategy: str) -> dict[str, Any]:
    """The prod stack file with `name` released by `strategy` alone (a 5-minute bake)."""
    document = config_rm_path(environment_document("prod"), f"services.{name}.deployment")
    document = config_set_path(document, f"services.{name}.deployment.strategy", strategy)
    if strategy != "rolling":
        document = config_set_path(document, f"services.{name}.deployment.bakeTimeMinutes", "5")
    return document


@pytest.mark.parametrize("rollback", [True, False])
def test_the_alarms_block_is_sent_with_rollback_on_and_off(prod: Rendering, rollback: bool) -> None:
    for name in [str(s.inputs["name"]) for s in prod.of_type("aws:ecs/service:Service")]:
        rendering = render_with(
            "prod", [(f"services.{name}.alarms.rollback", str(rollback).lower())]
        )
        alarms = ecs_service(rendering, name).inputs["alarms"]
        assert alarms["alarmNames"], name
        assert alarms["enable"] is rollback and alarms["rollback"] is rollback, name


def _rule_sends_all_to(
    monkeypatch: pytest.MonkeyPatch, rendering: Rendering, service: str, group: str
) -> None:
    """AWS's rule of `service` after a release that left all traffic on `group` (tg or alt)."""
    stack = rendering.stack
    weights = {"tg": 100 if group == "tg" else 0, "alt": 100 if group == "alt" else 0}
    rule = next(
        r.name
        for r in rendering.of_type("aws:lb/listenerRule:ListenerRule")
        if r.name.startswith(f"{stack}-{service}-rule-")
    )
    monkeypatch.setitem(
        harness.LIVE_LISTENER_RULES,
        f"${{{rule}.arn}}",
        [
            {
                "type": "forward",
                "order": 1,
                "forwards": [
                    {
                        "targetGroups": [
                            {"arn": f"${{{stack}-{service}-{g}.arn}}", "weight": w}
                            for g, w in weights.items()
                        ]
                    }
                ],
            }
        ],
    )


@pytest.mark.parametrize("strategy", ["rolling", "canary"])
@pytest.mark.parametrize("live", ["tg", "alt"])
def test_a_service_registers_where_its_rule_sends_traffic(
    monkeypatch: pytest.MonkeyPatch, prod: Rendering, strategy: str, live: str
) -> None:
    name = _shifting_service(prod)
    _rule_sends_all_to(monkeypatch, prod, name, live)
    rendering = render_document("prod", _with_strategy(name, strategy))
    (balancer,) = ecs_service(rendering, name).inputs["loadBalancers"]
    if strategy == "rolling":
        # Rolling: where the rule sends traffic, which nothing moves while it rolls.
        assert balancer["targetGroupArn"] == f"${{prod-{name}-{live}.arn}}"
        assert "advancedConfiguration" not in balancer
    else:
        # Traffic shifting: the groups keep their roles, and ECS picks from the rule.
        assert balancer["targetGroupArn"] == f"${{prod-{name}-tg.arn}}"
        assert balancer["advancedConfiguration"]["alternateTargetGroupArn"] == (
            f"${{prod-{name}-alt.arn}}"
        )
    # The rule keeps what ECS made of it: the program never moves its weights.
    (rule,) = [
        r
        for r in rendering.of_type("aws:lb/listenerRule:ListenerRule")
        if r.name.startswith(f"prod-{name}-rule-")
    ]
    assert rule.ignore_changes == ("actions",)
    # Its alarms watch both groups, whichever serves.
    alarm = rendering.named(f"prod-{name}-alarm-5xx-rate").inputs
    watched = {
        q["metric"]["dimensions"].get("TargetGroup")
        for q in alarm["metricQueries"]
        if "metric" in q
    } - {None}
    assert watched == {f"${{prod-{name}-tg.arnSuffix}}", f"${{prod-{name}-alt.arnSuffix}}"}


@pytest.mark.parametrize("strategy", ["rolling", "canary"])
def test_a_release_that_moves_the_rule_leaves_the_next_pulumi_up_with_nothing_to_send(
    monkeypatch: pytest.MonkeyPatch, prod: Rendering, strategy: str
) -> None:
    """Render, let a release move the rule as ECS would, render again: the ECS service's inputs
    are the same, so that `pulumi up` does not release again (force_new_deployment makes every
    update of the service a release)."""
    name = _shifting_service(prod)
    document = _with_strategy(name, strategy)
    _rule_sends_all_to(monkeypatch, prod, name, "alt")
    before = ecs_service(render_document("prod", document), name)
    # A canary release moves all traffic to the other group; a rolling service moves nothing.
    _rule_sends_all_to(monkeypatch, prod, name, "tg" if strategy == "canary" else "alt")
    after = ecs_service(render_document("prod", document), name)
    assert before.inputs == after.inputs


def test_requests_per_target_scale_on_the_serving_group(
    monkeypatch: pytest.MonkeyPatch, dev: Rendering
) -> None:
    policies = [
        p
        for p in dev.of_type("aws:appautoscaling/policy:Policy")
        if p.name.endswith("-requests-scaling")
    ]
    assert policies, "dev scales a routed service on requests per target"
    name = policies[0].name.removeprefix("dev-").removesuffix("-requests-scaling")
    _rule_sends_all_to(monkeypatch, dev, name, "alt")
    rendering = render_with("dev")
    label = rendering.named(f"dev-{name}-requests-scaling").inputs[
        "targetTrackingScalingPolicyConfiguration"
    ]["predefinedMetricSpecification"]["resourceLabel"]
    assert label == f"${{dev-ingress-alb.arnSuffix}}/${{dev-{name}-alt.arnSuffix}}"


def test_serving_group_reads_the_weights() -> None:
    def rule(primary: int, alternate: int) -> list[dict[str, Any]]:
        groups = [{"arn": "p", "weight": primary}, {"arn": "a", "weight": alternate}]
        return [{"forwards": [{"target_groups": groups}]}]

    assert serving_group(rule(100, 0), "p", "a") == "p"
    assert serving_group(rule(0, 100), "p", "a") == "a"
    assert serving_group(rule(10, 90), "p", "a") == "a"  # mid-release: where most goes
    assert serving_group(rule(50, 50), "p", "a") == "p"
    assert serving_group([], "p", "a") == "p"  # not read (offline, or before it exists)


# --- 11. confused deputy --------------------------------------------------------------------


def test_only_this_accounts_alarms_in_this_region_may_use_the_alarm_topic_key(
    prod: Rendering,
) -> None:
    statements = [
        statement
        for key in prod.of_type("aws:kms/key:Key")
        for statement in json.loads(key.inputs["policy"])["Statement"]
        if (statement.get("Principal") or {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(statements) == 1, "prod encrypts its alarm topic with a key of its own"
    account = "${aws.accountId}"
    assert statements[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {
            "aws:SourceArn": f"arn:${{aws.partition}}:cloudwatch:{_region(prod)}:{account}:alarm:*"
        },
    }


def test_the_infrastructure_role_trusts_ecs_as_aws_documents_it(prod: Rendering) -> None:
    roles = [
        r for r in prod.of_type("aws:iam/role:Role") if r.name.endswith("-infrastructure-role")
    ]
    assert roles, "prod shifts traffic with ECS's infrastructure role"
    for role in roles:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        # AWS documents no source conditions for this trust; see infrastructure_trust_policy.
        assert statement == {
            "Effect": "Allow",
            "Principal": {"Service": "ecs.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }


# --- 7. every architecture a stack asks for can be built in CI --------------------------------


def _architectures_asked_for() -> set[str]:
    """Docker platforms of the images every committed stack file builds, beyond the runner's."""
    found = set()
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        for service in (config.get(f"{project_name()}:services") or {}).values():
            architecture = (service or {}).get("cpuArchitecture", "X86_64")
            found.add(PLATFORMS[architecture].removeprefix("linux/"))
    return found - {"amd64"}


@pytest.mark.parametrize("workflow", ["pull-request.yml", "deploy.yml"])
def test_jobs_that_run_pulumi_can_build_every_architecture(workflow: str) -> None:
    foreign = _architectures_asked_for()
    assert foreign, "a committed stack builds for another architecture than the runner's"
    jobs = load(workflow)["jobs"]
    running_pulumi = {n: j for n, j in jobs.items() if uses(j, "pulumi/actions")}
    assert running_pulumi
    for name, job in running_pulumi.items():
        actions = [step.get("uses", "").split("@")[0] for step in job["steps"]]
        qemu = actions.index("docker/setup-qemu-action")
        assert (
            qemu < actions.index("docker/setup-buildx-action") < actions.index("pulumi/actions")
        ), name
        platforms = set(job["steps"][qemu]["with"]["platforms"].split(","))
        assert foreign <= platforms, name


# --- 9. the diff tells what AWS will see ------------------------------------------------------


def _with_service_inputs(rendering: Rendering, name: str, **inputs: Any) -> Rendering:
    """A copy of `rendering` whose ECS service `name` has these inputs (None: left out)."""
    resources = []
    for resource in rendering.resources:
        if resource.type == "aws:ecs/service:Service" and resource.inputs.get("name") == name:
            changed = {**resource.inputs, **inputs}
            resource = dataclasses.replace(
                resource, inputs={k: v for k, v in changed.items() if v is not None}
            )
        resources.append(resource)
    return dataclasses.replace(rendering, resources=resources)


def _autoscaled_service(prod: Rendering) -> RecordedResource:
    return next(
        s for s in prod.of_type("aws:ecs/service:Service") if "desiredCount" in s.ignore_changes
    )


def test_an_ignored_input_shows_as_ignored_not_as_an_update(prod: Rendering) -> None:
    service = _autoscaled_service(prod)
    name = str(service.inputs["name"])
    count = int(service.inputs["desiredCount"])
    head = _with_service_inputs(prod, name, desiredCount=count + 2)
    result = diff(prod, head)
    text = format_text(result, "prod", "prod-scaled")
    assert text.startswith(
        "prod → prod-scaled: 0 to add, 0 to remove, 0 to change, 0 to replace, 0 will conflict, "
        "1 with ignored inputs\n"
    )
    assert (
        f"= aws:ecs/service:Service  {service.name}\n"
        f"      desiredCount: {count} → {count + 2}  (ignored: Pulumi keeps the deployed value)\n"
    ) in text
    assert "= sends AWS nothing" in text
    markdown = format_markdown(result, "prod", "prod-scaled")
    assert "(ignored: Pulumi keeps the deployed value)" in markdown


def test_an_input_left_out_that_aws_keeps_never_looks_like_a_clean_update(prod: Rendering) -> None:
    name = _shifting_service(prod)
    service = ecs_service(prod, name)
    configuration = service.inputs["deploymentConfiguration"]
    head = _with_service_inputs(prod, name, deploymentConfiguration=None)
    text = format_text(diff(prod, head), "prod", "prod-program-without-it")
    assert "0 to change" in text and "1 with not sent inputs" in text
    strategy = configuration["strategy"]
    shown = show_value(configuration)
    assert (
        f"= aws:ecs/service:Service  {service.name}\n"
        f"    ! deploymentConfiguration: {shown} → (none)  (not sent: AWS keeps {shown} "
        "(Optional and Computed; send the value to change it))\n"
    ) in text
    # Rolling sent, the canary's settings left out: kept, but read by nothing.
    rolling = _with_service_inputs(prod, name, deploymentConfiguration={"strategy": "ROLLING"})
    text = format_text(diff(prod, rolling), "prod", "prod-rolling")
    assert f"deploymentConfiguration.strategy: {strategy} → ROLLING\n" in text
    assert "which nothing reads any more" in text
    assert "1 to change" in text


# --- 8. switching discovery mode -----------------------------------------------------------


def _waits_for(rendering: Rendering) -> dict[str, set[str]]:
    """ECS service name -> the ECS services it is created and updated after."""
    services = {s.urn: str(s.inputs["name"]) for s in rendering.of_type("aws:ecs/service:Service")}
    return {
        services[s.urn]: {services[d] for d in s.dependencies if d in services}
        for s in rendering.of_type("aws:ecs/service:Service")
    }


@pytest.mark.parametrize(
    ("before", "after"), [("cloudMapDns", "serviceConnect"), ("serviceConnect", "cloudMapDns")]
)
def test_switching_discovery_mode_is_one_safe_pulumi_up(before: str, after: str) -> None:
    base = render_with("prod", [("discovery.mode", before)])
    leaving = [("discovery.leavingServiceConnect", "true")] if after == "cloudMapDns" else []
    head = render_with("prod", [("discovery.mode", after), *leaving])
    result = diff(base, head)
    # Nothing is held twice, and every service keeps its DNS records throughout.
    assert result.conflicts == ()
    registries = {r.urn for r in head.of_type("aws:servicediscovery/service:Service")}
    assert len(registries) == len(CATALOG)
    assert not [r for r in result.removed if r.type == "aws:servicediscovery/service:Service"]
    assert not registries & set(result.replacements)
    for service in head.of_type("aws:ecs/service:Service"):
        assert service.inputs["serviceRegistries"]["registryArn"].endswith(".arn}")
    # The new mode's order: callees first into Service Connect, callers first out of it.
    waits = _waits_for(head)
    for name, spec in CATALOG.items():
        expected = set(spec.calls) if after == "serviceConnect" else set(callers_of(name, CATALOG))
        assert waits[name] == expected, name
    assert [w.key.path for w in result.immutable] == ["discovery.mode"]


def test_dns_releases_run_side_by_side_once_the_switch_is_over(prod: Rendering) -> None:
    assert all(not waits for waits in _waits_for(prod).values())
    leaving = render_with("prod", [("discovery.leavingServiceConnect", "true")])
    (warning,) = [w for w in leaving.warnings if w.startswith("discovery.leavingServiceConnect")]
    assert "remove it so that releases run side by side again" in warning
    refused = render_with(
        "prod",
        [("discovery.mode", "serviceConnect"), ("discovery.leavingServiceConnect", "true")],
        check=False,
    )
    assert refused.resources == []
    assert "discovery.leavingServiceConnect: true with discovery.mode serviceConnect" in str(
        refused.error
    )
