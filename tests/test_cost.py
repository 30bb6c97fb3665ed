"""The cost estimate (`python -m offline cost`): hand-computed cases from the price file's
numbers, the capacity-provider split, and the command, preview and diff that show it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.schema import CostConfig
from offline.__main__ import main
from offline.change import diff, format_markdown, format_text
from offline.estimates import cost
from offline.estimates.cost import lines as cost_lines
from offline.estimates.cost import present as cost_present
from offline.preview.report import preview_text
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering
from offline.render.stackfile import available_stacks
from tests.conftest import render_with

PRICE_FILE = json.loads((cost.PRICES_DIR / "us-east-1.json").read_text())["prices"]
ASSUMED = {
    key: entry["value"] for key, entry in yaml.safe_load(cost.ASSUMPTIONS_PATH.read_text()).items()
}


def usd(key: str) -> float:
    price = PRICE_FILE[key]["usd"]
    assert price is not None, key
    return float(price)


def resource(type_: str, logical_name: str, **inputs: Any) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:test::p::{type_}::{logical_name}",
        type=type_,
        name=logical_name,
        parent=None,
        custom=True,
        inputs=inputs,
    )


def rendering(*resources: RecordedResource, **config: str) -> Rendering:
    return Rendering(
        project="microservices",
        stack="test",
        resources=list(resources),
        outputs={},
        config={"aws:region": "us-east-1", **config},
    )


def task_definition(name: str, cpu: int, memory: int, arch: str = "X86_64") -> RecordedResource:
    return resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        name,
        cpu=str(cpu),
        memory=str(memory),
        runtimePlatform={"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"},
        containerDefinitions="[]",
    )


def ecs_service(name: str, task: str, desired: int, **inputs: Any) -> RecordedResource:
    return resource(
        "aws:ecs/service:Service",
        f"{name}-ecs",
        name=name,
        taskDefinition=f"${{{task}.arn}}",
        desiredCount=desired,
        **inputs,
    )


def lines_of(estimate: cost.Estimate, category: str) -> list[cost.CostLine]:
    return [line for line in estimate.lines if line.category == category]


# --- Fargate ---------------------------------------------------------------------------------


def test_one_task_a_month_on_fargate() -> None:
    # One 0.25 vCPU / 0.5 GB x86 task, all month, on demand.
    one_task = rendering(
        task_definition("t", 256, 512), ecs_service("api", "t", 1, launchType="FARGATE")
    )
    estimate = cost.estimate(one_task)
    vcpu, memory = lines_of(estimate, "fargate")
    assert vcpu.quantity == cost.Range.fixed(730 * 0.25)
    assert memory.quantity == cost.Range.fixed(730 * 0.5)
    expected = 730 * (0.25 * usd("fargate.vcpuHour.X86_64") + 0.5 * usd("fargate.gbHour.X86_64"))
    assert estimate.total.low == pytest.approx(expected)
    assert estimate.total.high == pytest.approx(expected)
    # With the file's prices: 730 x (0.25 x 0.04048 + 0.5 x 0.004445) = $9.01.
    assert cost.usd(estimate.total.low) == "$9.01", (
        "the hand-computed figure: redo it when the file's Fargate prices change"
    )


def test_arm64_tasks_take_the_arm_prices() -> None:
    arm = rendering(task_definition("t", 1024, 2048, arch="ARM64"), ecs_service("orders", "t", 2))
    estimate = cost.estimate(arm)
    expected = 2 * 730 * (1 * usd("fargate.vcpuHour.ARM64") + 2 * usd("fargate.gbHour.ARM64"))
    assert estimate.total.low == pytest.approx(expected)
    assert {line.price.key for line in estimate.lines} == {
        "fargate.vcpuHour.ARM64",
        "fargate.gbHour.ARM64",
    }


def test_autoscaled_services_run_at_min_for_low_and_max_for_high() -> None:
    scaled = rendering(
        task_definition("t", 512, 1024),
        ecs_service("users", "t", 2),
        resource(
            "aws:appautoscaling/target:Target",
            "users-scaling",
            resourceId="service/cluster/users",
            scalableDimension="ecs:service:DesiredCount",
            minCapacity=2,
            maxCapacity=6,
        ),
    )
    per_task = 730 * (0.5 * usd("fargate.vcpuHour.X86_64") + 1 * usd("fargate.gbHour.X86_64"))
    total = cost.estimate(scaled).total
    assert total.low == pytest.approx(2 * per_task)
    assert total.high == pytest.approx(6 * per_task)


def test_the_committed_stacks_price_their_services_from_their_task_definitions(
    prod: Rendering,
) -> None:
    estimate = cost.estimate(prod)
    tasks = {r.name: r.inputs for r in prod.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    targets = {
        str(t.inputs["resourceId"]).rsplit("/", 1)[-1]: t.inputs
        for t in prod.of_type("aws:appautoscaling/target:Target")
    }
    for service in prod.of_type("aws:ecs/service:Service"):
        name = service.inputs["name"]
        task = tasks[service.inputs["taskDefinition"][2:-1].rsplit(".", 1)[0]]
        arch = task["runtimePlatform"]["cpuArchitecture"]
        vcpu = int(task["cpu"]) / 1024
        [line] = [
            line
            for line in lines_of(estimate, "fargate")
            if line.resource == name and line.price.key == f"fargate.vcpuHour.{arch}"
        ]
        # prod runs everything on demand (FARGATE, weight 1, no Spot); a service without a
        # band runs its desired count.
        desired = service.inputs["desiredCount"]
        band = targets.get(name, {"minCapacity": desired, "maxCapacity": desired})
        assert line.quantity == cost.Range(
            730 * vcpu * band["minCapacity"], 730 * vcpu * band["maxCapacity"]
        )


# --- capacity providers ----------------------------------------------------------------------

DEV_STRATEGY = (
    {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
    {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 3},
)


@pytest.mark.parametrize(
    ("tasks", "on_demand", "spot"),
    [
        (0, 0, 0),
        (1, 1, 0),  # the base first
        (2, 1 + 1 * 1 / 4, 1 * 3 / 4),  # then 1:3 by weight
        (5, 1 + 4 * 1 / 4, 4 * 3 / 4),
    ],
)
def test_split_puts_the_base_first_then_splits_by_weight(
    tasks: int, on_demand: float, spot: float
) -> None:
    split = cost.split_tasks(tasks, DEV_STRATEGY)
    assert split["FARGATE"] == pytest.approx(on_demand)
    assert split["FARGATE_SPOT"] == pytest.approx(spot)


def test_split_base_larger_than_the_count_and_zero_weights() -> None:
    strategy = (
        {"capacityProvider": "FARGATE", "base": 3, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1},
    )
    assert cost.split_tasks(2, strategy) == {"FARGATE": 2, "FARGATE_SPOT": 0}
    assert cost.split_tasks(5, strategy) == {"FARGATE": 3, "FARGATE_SPOT": 2}
    assert cost.split_tasks(4, ()) == {"FARGATE": 4}


def test_spot_tasks_are_split_off_by_the_weights_and_not_priced() -> None:
    spot = rendering(
        task_definition("t", 256, 512),
        ecs_service("api", "t", 5, capacityProviderStrategies=list(DEV_STRATEGY)),
    )
    estimate = cost.estimate(spot)
    by_key = {line.price.key: line for line in estimate.lines}
    # 5 tasks: 1 (base) + 4 x 1/4 on demand, 4 x 3/4 on Spot.
    assert by_key["fargate.vcpuHour.X86_64"].quantity.low == pytest.approx(2 * 0.25 * 730)
    assert by_key["fargateSpot.vcpuHour.X86_64"].quantity.low == pytest.approx(3 * 0.25 * 730)
    assert not by_key["fargateSpot.vcpuHour.X86_64"].priced
    assert "70%" in str(by_key["fargateSpot.vcpuHour.X86_64"].price.not_priced)
    assert estimate.total.low == pytest.approx(
        2 * 730 * (0.25 * usd("fargate.vcpuHour.X86_64") + 0.5 * usd("fargate.gbHour.X86_64"))
    )


def test_a_service_without_its_own_strategy_takes_the_clusters_default() -> None:
    defaults = rendering(
        task_definition("t", 256, 512),
        ecs_service("api", "t", 2),
        resource(
            "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
            "capacity",
            defaultCapacityProviderStrategies=list(DEV_STRATEGY),
        ),
    )
    by_key = {line.price.key: line for line in cost.estimate(defaults).lines}
    assert by_key["fargate.vcpuHour.X86_64"].quantity.low == pytest.approx(1.25 * 0.25 * 730)


def test_dev_runs_its_autoscaled_extra_tasks_mostly_on_spot(dev: Rendering) -> None:
    # dev: FARGATE base 1 weight 1, FARGATE_SPOT weight 3; api-gateway scales 1..2.
    estimate = cost.estimate(dev)
    api = {
        line.price.key: line
        for line in lines_of(estimate, "fargate")
        if line.resource == "api-gateway"
    }
    assert api["fargate.vcpuHour.X86_64"].quantity == cost.Range(730 * 0.25, 730 * 0.25 * 1.25)
    assert api["fargateSpot.vcpuHour.X86_64"].quantity == cost.Range(0, 730 * 0.25 * 0.75)


# --- NAT gateways and addresses --------------------------------------------------------------


def vpc(strategy: str, zones: int = 3) -> RecordedResource:
    return resource(
        "awsx:ec2:Vpc",
        "vpc",
        natGateways={"strategy": strategy},
        numberOfAvailabilityZones=zones,
    )


@pytest.mark.parametrize(("strategy", "gateways"), [("Single", 1), ("OnePerAz", 3), ("None", 0)])
def test_nat_strategy_sets_the_gateways_and_their_addresses(strategy: str, gateways: int) -> None:
    estimate = cost.estimate(rendering(vpc(strategy)))
    hours = gateways * 730
    expected = (
        hours * usd("natGateway.hour")
        + (ASSUMED["natGbPerMonth"] * usd("natGateway.gbProcessed") if gateways else 0)
        + hours * usd("publicIpv4.hour")
    )
    assert estimate.total.low == pytest.approx(expected)


def test_per_az_nat_costs_one_gateway_and_address_per_zone_more(dev: Rendering) -> None:
    per_az = render_with("dev", [("network.natGateways", "perAz")])
    zones = int(per_az.of_type("awsx:ec2:Vpc")[0].inputs["numberOfAvailabilityZones"])
    change = cost.compare(dev, per_az)
    per_gateway = 730 * (usd("natGateway.hour") + usd("publicIpv4.hour"))
    assert change.delta.low == pytest.approx((zones - 1) * per_gateway)
    assert set(change.by_category) == {"nat", "publicIpv4"}


def test_an_internet_facing_load_balancer_pays_for_an_address_per_zone(prod: Rendering) -> None:
    [alb] = prod.of_type("aws:lb/loadBalancer:LoadBalancer")
    [addresses] = [
        line
        for line in cost.estimate(prod).lines
        if line.price.key == "publicIpv4.hour" and line.resource == alb.name
    ]
    assert addresses.quantity == cost.Range.fixed(len(alb.inputs["subnets"]) * 730)


def test_lcus_follow_the_largest_dimension() -> None:
    a = cost.load_assumptions()
    # 10 million requests of 10 KB: 100 GB over 730 hours, the largest of the four.
    assert cost.alb_lcus(a, rules=1) == pytest.approx(
        ASSUMED["requestsPerMonth"] * ASSUMED["kbPerRequest"] / 1e6 / 730
    )
    busy = cost.load_assumptions({"kbPerRequest": 0, "requestsPerMonth": 730 * 3600 * 100})
    # 100 requests a second, 10 a connection: 10 new connections a second of the 25 an LCU has.
    assert cost.alb_lcus(busy, rules=1) == pytest.approx(10 / 25)
    # 30 rules: 20 past the free 10, at 100 requests a second, of 1,000 evaluations an LCU.
    assert cost.alb_lcus(busy, rules=30) == pytest.approx(100 * 20 / 1000)


# --- WAF, keys, logs, monitoring ----------------------------------------------------------------


def waf(*groups: str) -> list[RecordedResource]:
    return [
        resource("aws:wafv2/webAcl:WebAcl", "waf", scope="REGIONAL", defaultAction={"allow": {}}),
        *(
            resource(
                "aws:wafv2/webAclRule:WebAclRule",
                f"waf-{group}",
                webAclArn="${waf.arn}",
                statement={"managedRuleGroupStatement": {"name": group, "vendorName": "AWS"}},
            )
            for group in groups
        ),
    ]


def test_a_waf_with_three_rule_groups() -> None:
    three = waf(
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    )
    estimate = cost.estimate(rendering(*three))
    # One web ACL, three rules (a rule group is one rule), ten million requests.
    expected = (
        usd("waf.webAclMonth")
        + 3 * usd("waf.ruleMonth")
        + ASSUMED["requestsPerMonth"] / 1e6 * usd("waf.millionRequests")
    )
    assert estimate.total.low == pytest.approx(expected)
    assert cost.usd(estimate.total.low) == "$14.00"  # 5 + 3 x 1 + 10 x 0.60


def test_a_paid_managed_rule_group_is_listed_unpriced() -> None:
    estimate = cost.estimate(rendering(*waf("AWSManagedRulesBotControlRuleSet")))
    [subscription] = [line for line in estimate.lines if not line.priced]
    assert "AWSManagedRulesBotControlRuleSet" in subscription.item


def test_prods_waf_rules_are_its_rendered_rules(prod: Rendering) -> None:
    rules = len(prod.of_type("aws:wafv2/webAclRule:WebAclRule"))
    [line] = [line for line in cost.estimate(prod).lines if line.price.key == "waf.ruleMonth"]
    assert line.quantity == cost.Range.fixed(rules)


def test_every_kms_key_is_a_key_month(prod: Rendering) -> None:
    keys = [line for line in cost.estimate(prod).lines if line.category == "kms"]
    assert len(keys) == len(prod.of_type("aws:kms/key:Key"))
    assert sum(line.monthly.low for line in keys) == pytest.approx(len(keys) * usd("kms.keyMonth"))


def test_task_logs_scale_with_the_tasks_and_vended_logs_do_not(prod: Rendering) -> None:
    estimate = cost.estimate(prod)
    groups = {r.name: r.inputs for r in prod.of_type("aws:cloudwatch/logGroup:LogGroup")}
    ingested = {
        line.resource: line for line in lines_of(estimate, "logs") if "ingested" in line.item
    }
    api = ingested["/ecs/microservices-prod/api-gateway"]
    assert api.quantity == cost.Range(
        2 * ASSUMED["logGbPerTaskMonth"], 6 * ASSUMED["logGbPerTaskMonth"]
    )
    assert api.price.key == "cloudwatch.logsIngestGb"
    flow = ingested["prod-network-flow-logs"]
    assert flow.quantity == cost.Range.fixed(ASSUMED["flowLogGbPerMonth"])
    assert flow.price.key == "cloudwatch.vendedLogsIngestGb"
    [stored] = [
        line
        for line in lines_of(estimate, "logs")
        if line.resource == "prod-network-flow-logs" and "stored" in line.item
    ]
    months = groups["prod-network-flow-logs"]["retentionInDays"] / (730 / 24)
    assert stored.quantity.low == pytest.approx(ASSUMED["flowLogGbPerMonth"] * months)


def test_alarms_count_each_metric_their_math_reads() -> None:
    alarms = rendering(
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "cpu", metricName="CPU", period=60),
        resource(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "rate",
            metricQueries=[
                {"id": "a", "metric": {"metricName": "5xx", "period": 60}},
                {"id": "b", "metric": {"metricName": "Requests", "period": 60}},
                {"id": "rate", "expression": "a / b"},
            ],
        ),
        resource("aws:cloudwatch/dashboard:Dashboard", "board", dashboardName="board"),
    )
    estimate = cost.estimate(alarms)
    assert estimate.total.low == pytest.approx(
        3 * usd("cloudwatch.alarmMetricMonth") + usd("cloudwatch.dashboardMonth")
    )


def test_container_insights_enhanced_is_listed_but_not_priced(
    dev: Rendering, prod: Rendering
) -> None:
    [enabled] = lines_of(cost.estimate(dev), "containerInsights")
    services = len(dev.of_type("aws:ecs/service:Service"))
    assert enabled.quantity == cost.Range.fixed(
        ASSUMED["containerInsightsMetricsPerCluster"]
        + services * ASSUMED["containerInsightsMetricsPerService"]
    )
    assert enabled.price.key == "cloudwatch.metricMonth"
    [enhanced] = lines_of(cost.estimate(prod), "containerInsights")
    assert not enhanced.priced
    assert "observation" in str(enhanced.price.not_priced)


def test_tables_repositories_and_the_hosted_zone(prod: Rendering) -> None:
    estimate = cost.estimate(prod)
    tables = prod.of_type("aws:dynamodb/table:Table")
    with_recovery = [t for t in tables if t.inputs["pointInTimeRecovery"]["enabled"]]
    per_table = (
        ASSUMED["tableWritesPerMonth"] / 1e6 * usd("dynamodb.onDemandMillionWrites")
        + ASSUMED["tableReadsPerMonth"] / 1e6 * usd("dynamodb.onDemandMillionReads")
        + ASSUMED["tableGb"] * usd("dynamodb.storageGbMonth")
    )
    assert sum(line.monthly.low for line in lines_of(estimate, "dynamodb")) == pytest.approx(
        len(tables) * per_table
        + len(with_recovery) * ASSUMED["tableGb"] * usd("dynamodb.pitrGbMonth")
    )
    repositories = lines_of(estimate, "ecr")
    assert len(repositories) == len(prod.of_type("aws:ecr/repository:Repository"))
    policy = json.loads(prod.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")[0].inputs["policy"])
    kept = policy["rules"][0]["selection"]["countNumber"]
    assert repositories[0].quantity == cost.Range.fixed(kept * ASSUMED["imageGb"])
    [zone] = lines_of(estimate, "route53")
    assert zone.monthly.low == usd("route53.hostedZoneMonth")


def test_traces_are_the_requests_times_the_sampling_ratio() -> None:
    task = task_definition("t", 256, 512)
    sampled = dataclasses.replace(
        task,
        inputs={
            **task.inputs,
            "containerDefinitions": json.dumps(
                [{"name": "app", "environment": [{"name": cost.SAMPLER_ARG, "value": "0.1"}]}]
            ),
        },
    )
    estimate = cost.estimate(rendering(sampled, ecs_service("api", "t", 1)))
    [traces] = lines_of(estimate, "traces")
    assert traces.quantity == cost.Range.fixed(ASSUMED["requestsPerMonth"] * 0.1 / 1e6)
    # Spans go to Transaction Search, whose ingestion rate no source read shows.
    assert not traces.priced
    assert "span ingestion is charged separately" in traces.price.not_priced


# --- assumptions, overrides, prices ---------------------------------------------------------


def test_the_assumptions_are_the_cost_config_keys() -> None:
    aliases = {field.alias for field in CostConfig.model_fields.values()}
    assert set(ASSUMED) == aliases


def test_a_cost_override_changes_its_line(dev: Rendering) -> None:
    changed = render_with("dev", [("cost.natGbPerMonth", "100")])
    estimate = cost.estimate(changed)
    [processed] = [line for line in estimate.lines if line.price.key == "natGateway.gbProcessed"]
    assert processed.quantity == cost.Range.fixed(100)
    assert estimate.assumptions["natGbPerMonth"].origin == "stack config"
    delta = cost.compare(dev, changed).delta
    assert delta.low == pytest.approx(
        (100 - ASSUMED["natGbPerMonth"]) * usd("natGateway.gbProcessed")
    )
    assert "natGbPerMonth = 100 GB/month (stack config)" in cost.to_text(estimate)


def test_every_price_names_its_aws_page_and_read_date() -> None:
    for key, price in PRICE_FILE.items():
        assert price["source"].startswith("https://aws.amazon.com/"), key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price["read"]), key
        assert (price["usd"] is None) == ("notPriced" in price), key
        assert price.get("evidence") or price.get("notPriced"), key


def test_every_committed_stack_has_a_price_file_for_its_region() -> None:
    for stack in available_stacks():
        region = environment_document(stack)["aws:region"]
        assert (cost.PRICES_DIR / f"{region}.json").is_file(), (stack, region)


def test_a_region_without_prices_is_one_clear_error(
    tmp_path: Path,
    dev: Rendering,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    elsewhere = dataclasses.replace(dev, config={**dev.config, "aws:region": "eu-south-2"})
    with pytest.raises(cost.CostError) as raised:
        cost.estimate(elsewhere)
    files = ", ".join(sorted(p.name for p in cost.PRICES_DIR.glob("*.json")))
    assert str(raised.value) == (
        f"no price file for region eu-south-2: {cost.PRICES_DIR / 'eu-south-2.json'} does not "
        f"exist (price files: {files})"
    )
    # Through the command: exit code 2 and the one line.
    monkeypatch.setattr(cost_lines, "PRICES_DIR", tmp_path)
    assert main(["cost", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: no price file for region us-east-1: {tmp_path / 'us-east-1.json'} does not "
        "exist (price files: none)\n"
    )
    # The preview still renders, with the reason on its cost line.
    assert "Estimated monthly cost: not available (no price file for region us-east-1" in (
        preview_text(dev)
    )


# --- the command, the preview, the diff ----------------------------------------------------


@pytest.mark.parametrize("stack", available_stacks())
def test_cost_command_on_every_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--stack", stack]) == 0
    text = capsys.readouterr().out
    assert main(["cost", "--stack", stack, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {
        "schemaVersion",
        "currency",
        "total",
        "lines",
        "assumptions",
        "pricesAsOf",
    }
    assert document["schemaVersion"] == cost.SCHEMA_VERSION
    assert document["currency"] == "USD"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["pricesAsOf"])
    priced = [line for line in document["lines"] if line["monthly"] is not None]
    assert document["total"]["low"] == pytest.approx(
        sum(line["quantity"]["low"] * line["unitPrice"] for line in priced), abs=0.01
    )
    assert document["total"]["high"] == pytest.approx(
        sum(line["quantity"]["high"] * line["unitPrice"] for line in priced), abs=0.01
    )
    assert 0 < document["total"]["low"] <= document["total"]["high"]
    for line in document["lines"]:
        assert (line["unitPrice"] is None) == (line["notPriced"] is not None)
        assert line["source"].startswith("https://aws.amazon.com/")
        assert set(line["assumptions"]) <= set(document["assumptions"])
    total = cost.Range(document["total"]["low"], document["total"]["high"])
    assert f" Total: {cost.show_range(total)} a month\n" in text
    # Each line shows the assumptions it rests on.
    for line in document["lines"]:
        for key in line["assumptions"]:
            value = cost_present._number(document["assumptions"][key]["value"])
            assert f"{key}={value}" in text, (line["resource"], key)


def test_preview_prints_the_total_in_one_line(dev: Rendering) -> None:
    text = preview_text(dev)
    lines = [line for line in text.splitlines() if "monthly cost" in line]
    assert lines == [cost.summary_line(cost.estimate(dev))]
    assert cost.show_range(cost.estimate(dev).total) in lines[0]


def test_diff_prints_the_cost_change(dev: Rendering, prod: Rendering) -> None:
    result = diff(dev, prod)
    change = cost.compare(dev, prod)
    assert change.delta == cost.estimate(prod).total - cost.estimate(dev).total
    assert result.cost == change
    text = format_text(result, "dev", "prod")
    assert f"\n{cost.change_text(change)}\n" in text
    assert f"    fargate: low {cost.signed_usd(change.by_category['fargate'].low)}" in text
    markdown = format_markdown(result, "dev", "prod")
    assert f"\n{cost.change_text(change)}\n" in markdown
    assert "\n- waf: low +$14.00, high +$14.00\n" in markdown  # prod alone has the WAF


def test_a_stack_against_itself_shows_no_cost_change(dev: Rendering) -> None:
    assert "cost" not in format_text(diff(dev, dev), "dev", "dev")


def cluster(setting: str) -> RecordedResource:
    return resource(
        "aws:ecs/cluster:Cluster",
        "cluster",
        name="cluster",
        settings=[{"name": "containerInsights", "value": setting}],
    )


def test_a_category_one_side_cannot_price_is_not_shown_as_a_saving() -> None:
    enabled, enhanced = rendering(cluster("enabled")), rendering(cluster("enhanced"))
    priced = ASSUMED["containerInsightsMetricsPerCluster"] * usd("cloudwatch.metricMonth")
    change = cost.compare(enabled, enhanced)
    assert change.by_category["containerInsights"] == cost.Range.fixed(-priced)
    reason = PRICE_FILE["cloudwatch.containerInsightsEnhanced"]["notPriced"]
    assert cost.change_categories(change) == [
        f"containerInsights: {cost.usd(priced)} → not priced (no change shown; head: Container "
        f"Insights with enhanced observability (0 services) ({reason}))"
    ]
    assert "-$" not in cost.change_categories(cost.compare(enhanced, enabled))[0]


def test_a_category_priced_on_both_sides_shows_its_change_and_what_is_left_out(
    dev: Rendering, prod: Rendering
) -> None:
    change = cost.compare(dev, prod)
    for category, unpriced in change.unpriced.items():
        line = next(c for c in cost.change_categories(change) if c.startswith(f"{category}: "))
        value = change.by_category[category]
        if unpriced.comparable:
            assert line.startswith(
                f"{category}: low {cost.signed_usd(value.low)}, high {cost.signed_usd(value.high)}"
                " (lines not priced: "
            ), line
        else:
            assert "no change shown" in line and "low " not in line, line
