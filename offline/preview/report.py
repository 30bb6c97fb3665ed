"""Read a Rendering the way a reviewer reads `pulumi preview`: tree, counts, services, outputs.

Everything here is derived from the recorded resources, not from the config, so the tables
show what the program actually registers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.observability.tracing import COLLECTOR_CONTAINER
from config.limits import is_placeholder_certificate
from offline.estimates import cost
from offline.estimates.rollout import RolloutEstimate, duration, service_estimate, span
from offline.render.harness import STACK_TYPE, RecordedResource, Rendering, is_reference
from offline.text import table_lines

ECS_SERVICE_COMPONENT = "microservices:ecs_service:EcsService"
ENDPOINT_COMPONENT = "microservices:endpoint:ServiceEndpoint"
STRATEGY_NAMES = {
    "ROLLING": "rolling",
    "BLUE_GREEN": "blueGreen",
    "LINEAR": "linear",
    "CANARY": "canary",
}
LOAD_BALANCER = "load balancer"
"""How a service row names the ALB among its callers."""


def tree_lines(rendering: Rendering) -> list[str]:
    """The resource tree as `pulumi preview` prints it: type and name, nested by parent."""
    rows: list[tuple[str, str]] = [(STACK_TYPE, f"{rendering.project}-{rendering.stack}")]
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in rendering.resources:
        children.setdefault(resource.parent, []).append(resource)

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for index, resource in enumerate(items):
            last = index == len(items) - 1
            rows.append((f"{prefix}{'└─ ' if last else '├─ '}{resource.type}", resource.name))
            walk(resource.urn, prefix + ("   " if last else "│  "))

    walk(None, "")
    width = max(len(type_) for type_, _ in rows) + 3
    lines = [f" {'Type':<{width}}Name"]
    lines += [f" + {type_:<{width - 2}}{name}" for type_, name in rows]
    return lines


def count_lines(rendering: Rendering) -> list[str]:
    counts = rendering.count_by_type()
    width = max(len(str(n)) for n in counts.values())
    lines = [f" {count:>{width}}  {type_}" for type_, count in counts.items()]
    lines.append(
        f" {len(rendering.resources) + 1:>{width}}  to create, with the stack "
        "(resources that awsx components create inside themselves are not counted)"
    )
    return lines


@dataclass(frozen=True, kw_only=True)
class ServiceRow:
    ecs_name: str
    dns_name: str
    port: str
    size: str
    count: str
    routes: tuple[str, ...]
    callers: tuple[str, ...]
    """ECS names of the calling services, or `load balancer`."""
    strategy: str = "-"
    """How a release rolls out: rolling, blueGreen, linear or canary."""
    alarms: str = "-"
    """How many alarms watch the service, and how many of them roll a release back."""
    image: str = "-"
    """`built from <directory>` for an image `pulumi up` builds, else the image reference."""
    rollout: RolloutEstimate | None = None
    """Estimated release, rollback and scale-out times (offline.estimates.rollout); None for an
    endpoint whose service runs in another stack."""
    client_alias: str | None = None
    """Under Service Connect, the `<dns name>:<port>` its callers' proxies serve it at."""


def _child(rendering: Rendering, parent: RecordedResource, type_: str) -> list[RecordedResource]:
    return [r for r in rendering.children(parent) if r.type == type_]


def _service_name(endpoint: RecordedResource, rendering: Rendering) -> str:
    """The service an endpoint serves: its log group is `/ecs/<project>-<stack>/<service>`."""
    (log_group,) = _child(rendering, endpoint, "aws:cloudwatch/logGroup:LogGroup")
    return str(log_group.inputs["name"]).rsplit("/", 1)[-1]


def _image_of(rendering: Rendering, runtime: RecordedResource) -> str:
    """Where the service's image comes from: the directory `pulumi up` builds, or the image
    reference its task definition names."""
    builds = [
        r
        for component in _child(rendering, runtime, "microservices:service_image:ServiceImage")
        for r in _child(rendering, component, "awsx:ecr:Image")
    ]
    if builds:
        # The service's own directory in the shared context (its SERVICE build argument).
        inputs = builds[0].inputs
        service = (inputs.get("args") or {}).get("SERVICE")
        context = inputs.get("context")
        return f"built from {context}/{service}" if service else f"built from {context}"
    for task in _child(rendering, runtime, "aws:ecs/taskDefinition:TaskDefinition"):
        essential = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["essential"]]
        if essential:
            return str(essential[0]["image"])
    return "-"


SERVICE_CONNECT = "serviceConnect"
CLOUD_MAP_DNS = "cloudMapDns"


def _client_alias(ecs: dict[str, Any]) -> str | None:
    """`<dns name>:<port>` of an ECS service's Service Connect endpoint, if it has one."""
    configuration = ecs.get("serviceConnectConfiguration") or {}
    if not configuration.get("enabled"):
        return None
    for service in configuration.get("services") or []:
        for alias in service.get("clientAlias") or []:
            return f"{alias['dnsName']}:{alias['port']}"
    return None


def discovery_mode(rendering: Rendering) -> str:
    """`discovery.mode` as the stack renders it: its ECS services' Service Connect settings,
    or a platform stack's contract."""
    if any(
        (service.inputs.get("serviceConnectConfiguration") or {}).get("enabled")
        for service in rendering.of_type("aws:ecs/service:Service")
    ):
        return SERVICE_CONNECT
    contract = rendering.outputs.get("platform")
    if isinstance(contract, dict):
        return str((contract.get("discovery") or {}).get("mode", CLOUD_MAP_DNS))
    return CLOUD_MAP_DNS


def discovery_lines(rendering: Rendering) -> list[str]:
    mode = discovery_mode(rendering)
    namespaces = sorted(
        str(r.inputs.get("name"))
        for r in rendering.of_type("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    )
    where = f" in {', '.join(namespaces)}" if namespaces else ""
    how = (
        f"ECS Service Connect{where}: callers reach each service at its client alias, through "
        "the proxies ECS adds to every task"
        if mode == SERVICE_CONNECT
        else f"Cloud Map DNS records{where}: callers resolve each service's name"
    )
    return [f"Service discovery: {mode} ({how})", ""]


def alarm_lines(rendering: Rendering) -> list[str]:
    """Who hears the alarms: the addresses subscribed to the stack's alarm topic, or nobody,
    when the alarms act only through the release rollbacks they trigger."""
    alarms = rendering.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    if not alarms:
        return []
    # The alarm topic; the FIFO topics carry events.
    if not [t for t in rendering.of_type("aws:sns/topic:Topic") if not t.inputs.get("fifoTopic")]:
        return [f"Alarm notifications: {len(alarms)} alarms notify the platform's topic", ""]
    addresses = [
        s
        for s in rendering.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs.get("protocol") == "email"
    ]
    if not addresses:
        return [
            f"Alarm notifications: nobody (alerts.emails is empty): the {len(alarms)} alarms act "
            "only through the release rollbacks they trigger; to hear them: pulumi config set "
            "--path 'alerts.emails[0]' ops@<your-domain>",
            "",
        ]
    return [
        f"Alarm notifications: {len(alarms)} alarms to {len(addresses)} address(es), each "
        "after it confirms AWS's subscription email",
        "",
    ]


def event_lines(rendering: Rendering) -> list[str]:
    """The asynchronous edges: each publisher's events to its topic, each topic's events to a
    subscriber's queue (docs/events.md)."""
    from offline.preview.graph import event_edges  # graph reads this module's rows

    _, edges = event_edges(rendering, set())
    if not edges:
        return []
    names = {
        **{e.source: e.source.removeprefix("svc_").replace("_", "-") for e in edges},
        **{e.target: e.target.removeprefix("svc_").replace("_", "-") for e in edges},
    }
    topics = {
        node.id: node.lines[1]
        for node in event_edges(rendering, set())[0]
        if node.id.startswith("topic_")
    }
    lines = ["Events (asynchronous: publisher -> topic -> subscriber's queue):"]
    for edge in edges:
        source = topics.get(edge.source, names[edge.source])
        target = topics.get(edge.target, names[edge.target])
        lines.append(f"    {source} -> {target}: {edge.label}")
    return [*lines, ""]


def tracing_lines(rendering: Rendering) -> list[str]:
    """Whether the stack's tasks trace: a collector beside the application, the share of new
    traces recorded, and whether this stack turns on the account's Transaction Search."""
    tasks = rendering.of_type("aws:ecs/taskDefinition:TaskDefinition")
    destinations = rendering.of_type("aws:xray/traceSegmentDestination:TraceSegmentDestination")
    if not tasks and not destinations:
        return []
    tracing = []
    ratios = set()
    for task in tasks:
        containers = json.loads(str(task.inputs.get("containerDefinitions") or "[]"))
        if any(c.get("name") == COLLECTOR_CONTAINER for c in containers):
            tracing.append(task)
            ratios |= {
                v["value"]
                for c in containers
                for v in c.get("environment") or ()
                if v.get("name") == "OTEL_TRACES_SAMPLER_ARG"
            }
    search = (
        "this stack turns on the account's Transaction Search"
        if destinations
        else "Transaction Search left to another stack"
    )
    if not tracing:
        state = (
            "off (observability.tracing)" if tasks else f"in the service stacks' tasks; {search}"
        )
        return [f"Tracing: {state}", ""]
    sampled = ", ".join(f"{float(r) * 100:g}%" for r in sorted(ratios, key=float))
    return [
        f"Tracing: on in {len(tracing)} of {len(tasks)} task definitions (an OpenTelemetry "
        f"collector beside each application, to X-Ray; new traces sampled at {sampled}; "
        f"{search})",
        "",
    ]


def service_rows(rendering: Rendering) -> list[ServiceRow]:
    """One row per service, from its endpoint and its runtime: both in an all-in-one stack,
    only endpoints in a platform stack, only runtimes in a service stack."""
    namespaces = {
        r.name: r.inputs.get("name")
        for r in rendering.of_type("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    }
    namespace_by_id = {f"${{{name}.id}}": ns for name, ns in namespaces.items()}

    endpoints = {c.name: c for c in rendering.of_type(ENDPOINT_COMPONENT)}
    runtimes = {c.name: c for c in rendering.of_type(ECS_SERVICE_COMPONENT)}
    service_connect = discovery_mode(rendering) == SERVICE_CONNECT
    # Security group id -> the service whose endpoint owns it, or the load balancer.
    group_owner: dict[str, str] = {}
    for sg in rendering.of_type("aws:ec2/securityGroup:SecurityGroup"):
        owner = next((c for c in endpoints.values() if sg.parent == c.urn), None)
        group_owner[f"${{{sg.name}.id}}"] = (
            _service_name(owner, rendering) if owner else LOAD_BALANCER
        )

    rows: list[ServiceRow] = []
    for component_name in sorted({*endpoints, *runtimes}):
        endpoint, runtime = endpoints.get(component_name), runtimes.get(component_name)
        name, port, size, count, strategy, alarms, image = ("-",) * 7
        estimate: RolloutEstimate | None = None
        if runtime is not None:
            (ecs_service,) = _child(rendering, runtime, "aws:ecs/service:Service")
            ecs = ecs_service.inputs
            name = str(ecs.get("name"))
            ecs_strategy = (ecs.get("deploymentConfiguration") or {}).get("strategy", "ROLLING")
            strategy = STRATEGY_NAMES.get(ecs_strategy, ecs_strategy)
            watching = _child(rendering, runtime, "aws:cloudwatch/metricAlarm:MetricAlarm")
            deployment_alarms = ecs.get("alarms") or {}
            rollback = (
                deployment_alarms.get("alarmNames") or []
                if deployment_alarms.get("rollback")
                else []
            )
            alarms = f"{len(watching)} ({len(rollback)} roll back)"
            image = _image_of(rendering, runtime)
            estimate = service_estimate(rendering, ecs_service)
            for task in _child(rendering, runtime, "aws:ecs/taskDefinition:TaskDefinition"):
                containers = json.loads(task.inputs["containerDefinitions"])
                port = ",".join(
                    str(m["containerPort"]) for c in containers for m in c.get("portMappings", [])
                )
                size = f"{task.inputs['cpu']}/{task.inputs['memory']}"
            targets = _child(rendering, runtime, "aws:appautoscaling/target:Target")
            if targets:
                band = targets[0].inputs
                count = f"{ecs.get('desiredCount')} ({band['minCapacity']}..{band['maxCapacity']})"
            else:
                count = f"{ecs.get('desiredCount')} (fixed)"
        elif endpoint is not None:
            name = _service_name(endpoint, rendering)
            size = count = "(service stack)"

        dns = "-"
        routes: list[str] = []
        callers: list[str] = []
        if endpoint is not None:
            for sd in _child(rendering, endpoint, "aws:servicediscovery/service:Service"):
                namespace_id = sd.inputs.get("dnsConfig", {}).get("namespaceId")
                dns = f"{sd.inputs['name']}.{namespace_by_id.get(namespace_id, namespace_id)}"
            for rule in _child(rendering, endpoint, "aws:lb/listenerRule:ListenerRule"):
                patterns = [
                    value
                    for condition in rule.inputs.get("conditions", [])
                    for key in ("pathPattern", "hostHeader")
                    for value in condition.get(key, {}).get("values", [])
                ]
                routes.append(f"{' '.join(patterns)} (priority {rule.inputs['priority']})")
            own_groups = {
                f"${{{sg.name}.id}}"
                for sg in _child(rendering, endpoint, "aws:ec2/securityGroup:SecurityGroup")
            }
            ingress = [
                rule
                for rule in rendering.of_type(
                    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
                )
                if rule.inputs.get("securityGroupId") in own_groups
            ]
            callers = sorted(
                group_owner.get(rule.inputs.get("referencedSecurityGroupId", ""), "?")
                for rule in ingress
            )
            if runtime is None:
                # The task definition is in a service stack: the port is the one the
                # endpoint admits its callers on (and its target groups forward to).
                ports = {rule.inputs.get("fromPort") for rule in ingress} | {
                    group.inputs.get("port")
                    for group in _child(rendering, endpoint, "aws:lb/targetGroup:TargetGroup")
                }
                port = ",".join(str(p) for p in sorted(p for p in ports if p is not None)) or "-"
        elif runtime is not None:
            dns = "(platform stack)"
        alias = _client_alias(ecs) if runtime is not None else None
        if alias is not None:
            dns = alias.rsplit(":", 1)[0]
        elif endpoint is not None and runtime is None and dns == "-" and service_connect:
            dns = "(service stack)"
        rows.append(
            ServiceRow(
                ecs_name=name,
                dns_name=dns,
                port=port,
                size=size,
                count=count,
                routes=tuple(routes),
                callers=tuple(callers),
                strategy=strategy,
                alarms=alarms,
                image=image,
                rollout=estimate,
                client_alias=alias,
            )
        )
    return sorted(rows, key=lambda row: row.ecs_name)


def service_table_lines(services: Sequence[ServiceRow]) -> list[str]:
    header = (
        "ECS service",
        "DNS name",
        "port",
        "cpu/mem",
        "count (band)",
        "release",
        "alarms",
        "image",
        "routes",
        "called by",
    )
    rows = [
        (
            r.ecs_name,
            r.dns_name,
            r.port,
            r.size,
            r.count,
            r.strategy,
            r.alarms,
            r.image,
            ", ".join(r.routes) or "-",
            ", ".join(r.callers) or "-",
        )
        for r in services
    ]
    return table_lines(header, rows)


def release_table_lines(services: Sequence[ServiceRow]) -> list[str]:
    """Each service's estimated release, rollback and scale-out (docs/rollout.md)."""
    header = (
        "ECS service",
        "strategy",
        "release live / done",
        "rollback live / done",
        "started at once",
        "scale out",
    )
    rows = []
    for row in services:
        estimate = row.rollout
        if estimate is None:
            continue
        batches = f" ({estimate.batches} batches)" if estimate.batches > 1 else ""
        scaled = (
            f"{'≥' if estimate.lower_bound else ''}{duration(estimate.scale_out_seconds)} "
            f"({estimate.scale_out_activities} step"
            f"{'' if estimate.scale_out_activities == 1 else 's'})"
            if estimate.scale_out_activities is not None
            else ("never" if estimate.autoscaled else "(fixed count)")
        )
        rows.append(
            (
                row.ecs_name,
                estimate.strategy,
                span(
                    estimate.release_live_seconds,
                    estimate.release_done_seconds,
                    estimate.lower_bound,
                ),
                span(
                    estimate.rollback_live_seconds,
                    estimate.rollback_done_seconds,
                    estimate.lower_bound,
                ),
                f"{estimate.tasks_per_batch} of {estimate.tasks}{batches}",
                scaled,
            )
        )
    if not rows:
        return []
    return table_lines(header, rows)


def describe(value: Any) -> str:
    """An output value for people: anything built from a reference is known after deploy."""
    if is_reference(value) and value.count("${") == 1:
        return f"(known after deploy: {value[2:-1]})"
    if isinstance(value, str) and "${" in value:
        return f"{value}  (known after deploy)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def output_lines(rendering: Rendering) -> list[str]:
    lines: list[str] = []

    def walk(key: str, value: Any, indent: int) -> None:
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{key}:")
            for child_key, child in sorted(value.items()):
                walk(child_key, child, indent + 4)
        else:
            lines.append(f"{' ' * indent}{key}: {describe(value)}")

    for key, value in sorted(rendering.outputs.items()):
        walk(key, value, 4)
    return lines


def cost_line(rendering: Rendering) -> str:
    """The estimated monthly cost range in one line (`offline cost` has the lines)."""
    try:
        return cost.summary_line(cost.estimate(rendering))
    except cost.CostError as error:
        return f"Estimated monthly cost: not available ({error})"


def _release_section(services: Sequence[ServiceRow]) -> list[str]:
    table = release_table_lines(services)
    if not table:
        return []
    return [
        "Releases (estimated from the settings above; model and assumptions: docs/rollout.md):",
        *table,
        "",
    ]


def before_deploy_lines(rendering: Rendering) -> list[str]:
    """What the preview passes and `pulumi up` refuses: a listener with the stack file's
    placeholder certificate (README.md, A first real deploy)."""
    placeholders = sorted(
        {
            str(listener.inputs["certificateArn"])
            for listener in rendering.of_type("aws:lb/listener:Listener")
            if isinstance(listener.inputs.get("certificateArn"), str)
            and is_placeholder_certificate(listener.inputs["certificateArn"])
        }
    )
    if not placeholders:
        return []
    region = placeholders[0].split(":")[3]
    return [
        "Before `pulumi up`:",
        f"    loadBalancer.certificateArn is still the stack file's placeholder "
        f"({', '.join(placeholders)}): this preview shows the HTTPS listener with it, and "
        "`pulumi up` refuses it; fix: pulumi config set --path 'loadBalancer.certificateArn' "
        f"'arn:aws:acm:{region}:<account>:certificate/<id>' (README.md, A first real deploy)",
        "",
    ]


def preview_text(rendering: Rendering) -> str:
    services = service_rows(rendering)  # both tables read them
    sections = [
        f"Previewing stack '{rendering.stack}' of project '{rendering.project}' "
        "(offline: Pulumi mock runtime, no AWS calls)",
        "",
        *tree_lines(rendering),
        "",
        "Resources by type:",
        *count_lines(rendering),
        "",
        *discovery_lines(rendering),
        *alarm_lines(rendering),
        *event_lines(rendering),
        *tracing_lines(rendering),
        "Services:",
        *service_table_lines(services),
        "",
        *_release_section(services),
        cost_line(rendering),
        "",
        "Outputs:",
        *output_lines(rendering),
        "",
        *before_deploy_lines(rendering),
        *(
            ["Warnings:", *(f"    {warning}" for warning in rendering.warnings), ""]
            if rendering.warnings
            else []
        ),
        "${name.attribute} stands for a value AWS assigns at deploy (an id, ARN or generated "
        "name).",
        "Components from other packages (awsx:ec2:Vpc) show as one resource; `pulumi preview` "
        "also lists their children (subnets, route tables, NAT gateways).",
    ]
    return "\n".join(sections) + "\n"
