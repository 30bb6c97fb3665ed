"""prod split into a platform stack and one service stack per service, in a temporary copy of
the project: the split registers what the all-in-one stack registers and costs what it costs,
each service stack holds its own services only (the proofs render every service stack:
`make test-all`), a service stack refuses what is not its own, its errors name it, its graph
shows its platform's side, and the diff from the all-in-one stack moves resources rather than
removing them."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from config import CONTRACT_VERSION, ConfigError, load_settings
from config.calls import callers_of
from offline.change import diff, format_markdown, format_text
from offline.change.moves import with_moves
from offline.estimates import cost
from offline.preview.graph import architecture, to_mermaid
from offline.preview.report import service_rows
from offline.render.environments import environment_document
from offline.render.harness import Rendering, render
from offline.render.stackfile import StackFileError, config_set_path, project_name, to_cli_config
from services import CATALOG
from tests.split import SplitProject, split, write_stack

PLATFORM_COMPONENT = "microservices:platform:Platform"
RUNTIME_TYPES = {
    "microservices:ecs_service:EcsService",
    "aws:ecs/service:Service",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    # Its image and its data (from the applications issue on).
    "microservices:service_image:ServiceImage",
    "aws:ecr/repository:Repository",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "awsx:ecr:Image",
    "microservices:service_table:ServiceTable",
    "aws:dynamodb/table:Table",
    "aws:kms/key:Key",
    # Its events: a publisher's relay, a subscriber's queue (issue 22).
    "microservices:events:EventRelay",
    "aws:lambda/function:Function",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "microservices:events:EventQueue",
    "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sns/topicSubscription:TopicSubscription",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> SplitProject:
    return split(tmp_path_factory.mktemp("split") / "project")


@pytest.fixture(scope="module")
def platform(project: SplitProject) -> Rendering:
    return render(project.platform, project_dir=project.directory)


@pytest.fixture(scope="module")
def service_stacks(project: SplitProject) -> dict[str, Rendering]:
    return {
        service: render(stack, project_dir=project.directory)
        for service, stack in project.service_stacks.items()
    }


def registered(rendering: Rendering) -> Counter[tuple[str, str, str]]:
    """What a stack registers, regardless of where in its tree: type, name and inputs."""
    return Counter(
        (r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in rendering.resources
    )


@pytest.fixture(scope="module")
def order_stack(project: SplitProject) -> Rendering:
    """One service stack: the fast tests' (each renders its platform too)."""
    return render(project.service_stacks["order-service"], project_dir=project.directory)


@pytest.mark.slow
def test_the_split_registers_what_the_all_in_one_stack_registers(
    prod: Rendering, platform: Rendering, service_stacks: dict[str, Rendering]
) -> None:
    split_total = registered(platform)
    for rendering in service_stacks.values():
        split_total += registered(rendering)
    all_in_one = registered(prod)
    # The events are part of the proof: topics, key, relays, queues, subscriptions.
    events = {t for t, _, _ in all_in_one if t.startswith(("aws:sns/", "aws:sqs/", "aws:lambda/"))}
    assert events >= {
        "aws:sns/topic:Topic",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:lambda/function:Function",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
    }
    assert split_total - all_in_one == Counter(), "the split registers more"
    assert all_in_one - split_total == Counter(), "the split misses resources"


def test_the_platform_runs_no_service(platform: Rendering) -> None:
    runtime = {r.urn for r in platform.of_type("microservices:ecs_service:EcsService")}
    assert not runtime
    assert not platform.of_type("aws:ecs/service:Service")
    assert not platform.of_type("aws:ecs/taskDefinition:TaskDefinition")
    assert not platform.of_type("aws:appautoscaling/target:Target")
    assert {r.name for r in platform.of_type("microservices:endpoint:ServiceEndpoint")} == {
        f"{platform.stack}-{name}" for name in CATALOG
    }
    assert platform.outputs["contractVersion"] == CONTRACT_VERSION
    assert set(platform.outputs["platform"]["endpoints"]) == set(CATALOG)


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(CATALOG))
def test_a_service_stack_holds_its_service_only(
    service: str, project: SplitProject, service_stacks: dict[str, Rendering]
) -> None:
    rendering = service_stacks[service]
    component = f"{project.platform}-{service}"
    assert rendering.resources
    assert all(r.type in RUNTIME_TYPES for r in rendering.resources)
    assert all(
        r.name == component or r.name.startswith(f"{component}-") for r in rendering.resources
    )
    assert {r.inputs["name"] for r in rendering.of_type("aws:ecs/service:Service")} == {service}
    # The only security group it references is its own endpoint's.
    text = json.dumps([r.inputs for r in rendering.resources])
    groups = {part.split(".")[0] for part in text.split("${")[1:] if "-sg.id}" in part}
    assert groups <= {f"{component}-sg"}
    assert rendering.outputs["platform"] == project.reference


@pytest.mark.slow
def test_config_set_on_a_service_stack_changes_only_its_own_render(
    project: SplitProject, platform: Rendering, service_stacks: dict[str, Rendering]
) -> None:
    stack = project.service_stacks["order-service"]
    path = project.directory / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())["config"]
    original = path.read_text()
    try:
        for key, value in (
            ("services.order-service.autoscaling.maxCount", "7"),
            ("services.order-service.cpu", "1024"),
            ("services.order-service.memory", "2048"),
        ):
            document = config_set_path(document, key, value)
        write_stack(project.directory, stack, document)
        after = {
            name: render(other, project_dir=project.directory)
            for name, other in project.service_stacks.items()
        }
        after_platform = render(project.platform, project_dir=project.directory)
    finally:
        path.write_text(original)
    assert registered(after_platform) == registered(platform)
    for name, rendering in after.items():
        if name == "order-service":
            continue
        assert registered(rendering) == registered(service_stacks[name]), name
    changed = registered(after["order-service"]) - registered(service_stacks["order-service"])
    assert {(type_, name) for type_, name, _ in changed} == {
        ("aws:ecs/taskDefinition:TaskDefinition", f"{project.platform}-order-service-task"),
        ("aws:appautoscaling/target:Target", f"{project.platform}-order-service-scaling"),
    }


# --- refusals ----------------------------------------------------------------------------------


def _service_stack_error(project: SplitProject, config: dict[str, Any]) -> list[str]:
    name = project_name(project.directory)
    stack_config = to_cli_config(name, "prod-extra", config)
    rendering = render(
        "prod-extra", config=stack_config, project_dir=project.directory, check=False
    )
    assert rendering.resources == [], "resources were registered before validation passed"
    return str(rendering.error).splitlines()


def test_a_service_stack_refuses_the_platforms_keys(project: SplitProject) -> None:
    lines = _service_stack_error(
        project,
        {
            "aws:region": "us-east-1",
            "microservices:platform": project.reference,
            "microservices:network": {"cidrBlock": "10.40.0.0/16"},
            "microservices:logs": {"retentionDays": 30},
            "microservices:services": {"order-service": {}},
        },
    )
    assert lines == [
        "invalid config for stack 'prod-extra' (2 problems):",
        f"  logs: belongs to the platform stack {project.reference}: a service stack reads it "
        "from the platform's outputs (allowed here: platform, services); fix: pulumi config rm "
        "logs",
        f"  network: belongs to the platform stack {project.reference}: a service stack reads "
        "it from the platform's outputs (allowed here: platform, services); fix: pulumi config "
        "rm network",
    ]


def test_a_service_stack_refuses_a_malformed_reference(project: SplitProject) -> None:
    lines = _service_stack_error(
        project,
        {"aws:region": "us-east-1", "microservices:platform": "prod"},
    )
    assert lines == [
        "invalid config for stack 'prod-extra' (1 problem):",
        '  platform: "prod" is not a stack reference (allowed: <org>/<project>/<stack>, the '
        "platform stack of this environment); fix: pulumi config set --path 'platform' "
        "'<org>/microservices/<stack>'",
    ]


def test_a_missing_platform_stack_file_is_named(project: SplitProject) -> None:
    config = to_cli_config(
        project_name(project.directory),
        "prod-extra",
        {
            "aws:region": "us-east-1",
            "microservices:platform": "acme/microservices/staging",
            "microservices:services": {"order-service": {}},
        },
    )
    with pytest.raises(StackFileError, match=r"^no stack 'staging': Pulumi.staging.yaml does"):
        render("prod-extra", config=config, project_dir=project.directory)


def _contract_outputs(platform: Rendering) -> dict[str, Any]:
    return json.loads(json.dumps(platform.outputs))


def test_the_platform_holds_the_topics_and_key_and_exports_them(
    platform: Rendering, order_stack: Rendering
) -> None:
    """Topics, the events key and each relay's log group and failure queue are the platform's;
    the contract exports them; a subscriber's stack subscribes to the exported topic."""
    publishers = sorted(name for name, spec in CATALOG.items() if spec.publishes)
    fifo = [r for r in platform.of_type("aws:sns/topic:Topic") if r.inputs.get("fifoTopic")]
    assert sorted(r.inputs["name"] for r in fifo) == [
        f"microservices-prod-{p}-events.fifo" for p in publishers
    ]
    events = platform.outputs["platform"]["events"]
    assert events["keyArn"] == "${prod-events-key.arn}"
    assert sorted(events["publishers"]) == publishers
    for name, exported in events["publishers"].items():
        assert exported == {
            "topicArn": f"${{prod-events-{name}-topic.arn}}",
            "relayLogGroupName": f"/aws/lambda/microservices-prod-{name}-relay",
            "relayLogGroupArn": f"${{prod-events-{name}-relay-logs.arn}}",
            "relayFailureQueueArn": f"${{prod-events-{name}-relay-failures.arn}}",
        }
    assert not platform.of_type("aws:lambda/function:Function")
    assert not [q for q in platform.of_type("aws:sqs/queue:Queue") if "fifo" in q.inputs["name"]]
    (subscription,) = order_stack.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["topic"] == "${prod-events-user-service-topic.arn}"


def test_a_subscriber_whose_platform_has_no_topic_for_its_publisher_is_refused(
    platform: Rendering,
) -> None:
    """A platform deployed from an older catalog: the service stack says which topic is
    missing and that the platform is to be deployed first."""
    outputs = _contract_outputs(platform)
    del outputs["platform"]["events"]["publishers"]["user-service"]
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"platform": "acme/microservices/prod", "services": {"order-service": {}}},
            stack="prod-order-service",
            region="us-east-1",
            platform=outputs,
        )
    assert [str(issue) for issue in raised.value.issues] == [
        "services.order-service: subscribes to events of 'user-service', and the platform "
        "acme/microservices/prod has no event topic for 'user-service' (allowed: none); run "
        "pulumi up on the platform first, from the catalog with these events; fix: pulumi up "
        "--stack acme/microservices/prod"
    ]


def test_a_service_the_platform_has_no_endpoint_for_is_refused(platform: Rendering) -> None:
    outputs = _contract_outputs(platform)
    del outputs["platform"]["endpoints"]["order-service"]
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"platform": "acme/microservices/prod", "services": {"order-service": {}}},
            stack="prod-order-service",
            region="us-east-1",
            platform=outputs,
        )
    assert [str(issue) for issue in raised.value.issues] == [
        "services.order-service: has no endpoint in the platform acme/microservices/prod "
        f"(allowed: {', '.join(sorted(set(CATALOG) - {'order-service'}))}); add the service to "
        "the catalog (services/) and run pulumi up on the platform first; fix: pulumi config "
        "rm --path 'services.order-service'"
    ]


def test_a_platform_of_another_contract_version_is_refused(platform: Rendering) -> None:
    outputs = _contract_outputs(platform)
    outputs["contractVersion"] = CONTRACT_VERSION + 1
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"platform": "acme/microservices/prod", "services": {"order-service": {}}},
            stack="prod-order-service",
            region="us-east-1",
            platform=outputs,
        )
    assert [str(issue) for issue in raised.value.issues] == [
        f'platform: "acme/microservices/prod" exports contract version {CONTRACT_VERSION + 1}, '
        f"and this program reads version {CONTRACT_VERSION} (allowed: a platform deployed from "
        f"a program with contract version {CONTRACT_VERSION}); fix: deploy the platform and its "
        "service stacks from the same release of this program"
    ]


def test_a_stack_that_is_no_platform_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"platform": "acme/microservices/dev", "services": {"order-service": {}}},
            stack="dev-order-service",
            region="us-east-1",
            platform={"albDnsName": "x"},
        )
    (issue,) = raised.value.issues
    assert issue.message.startswith('"acme/microservices/dev" exports no service-stack contract')


def test_a_service_stack_runs_in_its_platforms_region(platform: Rendering) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"platform": "acme/microservices/prod", "services": {"order-service": {}}},
            stack="prod-order-service",
            region="eu-west-1",
            platform=_contract_outputs(platform),
        )
    assert [str(issue) for issue in raised.value.issues] == [
        "aws:region: eu-west-1 is not the platform's region us-east-1 (allowed: us-east-1: a "
        "service runs in its platform's VPC); fix: pulumi config set aws:region us-east-1"
    ]


def test_a_platform_stack_refuses_service_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {"serviceStacks": True, "services": {"order-service": {"desiredCount": 2}}},
            stack="prod",
            region="us-east-1",
        )
    assert [str(issue) for issue in raised.value.issues] == [
        "services: is set in a platform stack (serviceStacks: true), which declares every "
        "service's endpoint but runs none: a service's settings belong in its service stack "
        "(allowed: no services key here); fix: pulumi config rm services, and set them in the "
        "service stacks"
    ]


def test_a_service_run_by_two_service_stacks_is_refused_naming_both_files(
    project: SplitProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The program reads the project's other stack files from its working directory, as under
    # the CLI.
    monkeypatch.chdir(project.directory)
    stack = project.service_stacks["order-service"]
    own = project.directory / f"Pulumi.{stack}.yaml"
    other = project.directory / "Pulumi.prod-orders.yaml"
    other.write_text(own.read_text())
    try:
        rendering = render(stack, project_dir=project.directory, check=False)
    finally:
        other.unlink()
    assert rendering.resources == []
    assert str(rendering.error).splitlines() == [
        f"invalid config for stack '{stack}' (1 problem):",
        f"  services.order-service: is also run by the service stack 'prod-orders' of the same "
        f"platform {project.reference}: Pulumi.{stack}.yaml and Pulumi.prod-orders.yaml would "
        "both create its ECS service, task definition and roles (allowed: one service stack per "
        f"service); fix: pulumi config rm --stack {stack} --path 'services.order-service', or "
        "the same with --stack prod-orders",
    ]


def test_a_service_stacks_errors_name_it_not_its_platform(project: SplitProject) -> None:
    stack = project.service_stacks["order-service"]
    document = yaml.safe_load((project.directory / f"Pulumi.{stack}.yaml").read_text())["config"]
    document["aws:region"] = "eu-west-1"
    config = to_cli_config(project_name(project.directory), stack, document)
    rendering = render(stack, config=config, project_dir=project.directory, check=False)
    assert str(rendering.error).splitlines() == [
        f"invalid config for stack '{stack}' (1 problem):",
        "  aws:region: eu-west-1 is not the platform's region us-east-1 (allowed: us-east-1: a "
        "service runs in its platform's VPC); fix: pulumi config set aws:region us-east-1",
    ]


def test_the_platforms_services_keep_their_ports(platform: Rendering) -> None:
    rows = {row.ecs_name: row for row in service_rows(platform)}
    assert set(rows) == set(CATALOG)
    for name, spec in CATALOG.items():
        called_or_routed = bool(spec.routes) or any(name in s.calls for s in CATALOG.values())
        assert rows[name].port == (str(spec.container_port) if called_or_routed else "-"), name


def graph_edges(text: str) -> dict[tuple[str, str], str]:
    return {
        (source, target): label
        for source, label, target in re.findall(r'^  (\w+) -->\|"(.*)"\| (\w+)$', text, re.M)
    }


def node(service: str) -> str:
    return "svc_" + re.sub(r"[^A-Za-z0-9]", "_", service)


@pytest.mark.parametrize("service", sorted(CATALOG))
def test_a_service_stacks_graph_shows_its_platforms_alb_and_its_callers(
    service: str, project: SplitProject, platform: Rendering, order_stack: Rendering
) -> None:
    stack = project.service_stacks[service]
    rendering = (
        order_stack if service == "order-service" else render(stack, project_dir=project.directory)
    )
    text = to_mermaid(architecture(rendering))
    edges = graph_edges(text)
    spec = CATALOG[service]
    callers = callers_of(service, CATALOG)
    expected = {(node(caller), node(service)) for caller in callers}
    if spec.routes:
        expected |= {("internet", "alb"), ("alb", node(service))}
    assert set(edges) == expected
    for caller in callers:
        assert edges[node(caller), node(service)] == (
            f"{spec.discovery_name}.{project.platform}.internal:{spec.container_port}"
        )
        assert f'  {node(caller)}["{caller}<br/>(its own stack)"]' in text
    if spec.routes:
        listeners = re.search(r'alb\["Application Load Balancer<br/>(.*)"\]', text)
        assert listeners is not None and listeners[1] == edges["internet", "alb"]
        assert "HTTPS 443" in listeners[1]
    else:
        assert "alb" not in text
    (row,) = service_rows(rendering)
    assert f"tasks {row.count}" in text and f"cpu/mem {row.size}" in text
    # Its events: the platform's topic, drawn dashed, from its relay or to its queue.
    asynchronous = set(re.findall(r'^  (\w+) -\.->\|".*"\| (\w+)$', text, re.M))
    topic = "topic_microservices_prod_user_service_events_fifo"
    expected_events = set()
    if spec.publishes:
        expected_events.add((node(service), topic))
    if spec.subscribes:
        expected_events.add((topic, node(service)))
    assert asynchronous == expected_events


def test_a_service_stack_prices_its_tasks_logs(
    project: SplitProject, platform: Rendering, order_stack: Rendering
) -> None:
    group = f"/ecs/microservices-{project.platform}/order-service"
    own = cost.estimate(order_stack)
    retention = environment_document(project.platform)["microservices:logs"]["retentionDays"]
    assert {line.item for line in own.lines if line.resource == group} == {
        "GB of logs ingested",
        f"GB-months stored ({retention} days' retention)",
    }
    assert all(line.priced for line in own.lines if line.resource == group)
    assert not [line for line in cost.estimate(platform).lines if line.resource == group]
    # From a saved document, without its platform: the storage is listed, not priced.
    alone = cost.estimate(dataclasses.replace(order_stack, platform=None))
    (stored,) = [line for line in alone.lines if line.resource == group and not line.priced]
    assert stored.item == "GB-months stored"
    assert stored.price.not_priced == (
        "the log group and its retention are the platform stack's, which is not rendered here"
    )


@pytest.mark.slow
def test_the_split_costs_what_the_all_in_one_stack_costs(
    prod: Rendering, platform: Rendering, service_stacks: dict[str, Rendering]
) -> None:
    split_total = cost.estimate(platform).total
    for rendering in service_stacks.values():
        split_total = split_total + cost.estimate(rendering).total
    whole = cost.estimate(prod).total
    assert split_total.low == pytest.approx(whole.low, rel=0.01)
    assert split_total.high == pytest.approx(whole.high, rel=0.01)


def test_the_diff_to_the_platform_moves_a_service_stacks_resources(
    prod: Rendering, platform: Rendering, order_stack: Rendering, project: SplitProject
) -> None:
    stack = project.service_stacks["order-service"]
    result = with_moves(diff(prod, platform), prod, platform, {stack: order_stack})
    (move,) = result.moves
    component = f"{project.platform}-order-service"
    assert move.destination == stack and move.source == project.platform
    assert {(r.type, r.name) for r in move.resources} == {
        (r.type, r.name) for r in order_stack.resources
    }
    (root,) = move.roots
    assert (root.type, root.name) == ("microservices:ecs_service:EcsService", component)
    assert move.command == (
        f"pulumi state move --source {project.platform} --dest {stack} '{root.urn}'"
    )
    assert not {r.urn for r in result.removed} & {r.urn for r in move.resources}
    assert result.counts["move"] == len(move.resources)
    text = format_text(result, "prod.json", project.platform)
    assert f"{len(move.resources)} to move" in text.splitlines()[0]
    assert f"      {move.command}\n" in text
    assert f"| `{stack}` | {len(move.resources)} |" in format_markdown(result, "a", "b")


def test_a_platforms_error_names_the_platform_and_the_service_stack_that_read_it(
    project: SplitProject,
) -> None:
    path = project.directory / f"Pulumi.{project.platform}.yaml"
    original = path.read_text()
    document = yaml.safe_load(original)["config"]
    document["microservices:logs"] = {**document.get("microservices:logs", {}), "retentionDays": 8}
    write_stack(project.directory, project.platform, document)
    stack = project.service_stacks["order-service"]
    try:
        with pytest.raises(pulumi.RunError) as raised:
            render(stack, project_dir=project.directory)
    finally:
        path.write_text(original)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"invalid config for stack '{project.platform}' (1 problem):"
    assert lines[1].startswith("  logs.retentionDays: 8 ")
    assert lines[-1] == (
        f"(the platform stack of '{stack}', rendered to resolve its StackReference)"
    )
