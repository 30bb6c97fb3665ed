"""The architecture as a graph: internet -> ALB -> routed services -> the services they call,
and the events: publisher -> its topic -> each subscriber (dashed: asynchronous, through the
publisher's table stream and relay, and the subscriber's queue; docs/events.md).

A call's edge names the DNS name and port the caller uses: a Cloud Map DNS record, or under
ECS Service Connect the callee's client alias.

Derived from the recorded resources (listeners, listener rules, security-group rules), so the
picture shows what the program creates. A service stack's graph draws its services with what
its platform holds for them: the load balancer that routes to them and the services that call
them (each in a stack of its own). Mermaid renders on GitHub; DOT goes through Graphviz for SVG
or PNG.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from offline.preview.report import LOAD_BALANCER, ServiceRow, service_rows
from offline.render.harness import RecordedResource, Rendering

INTERNET = "internet"
ALB = "alb"


class GraphvizError(Exception):
    """SVG or PNG was asked for, and Graphviz's `dot` is not installed."""


@dataclass(frozen=True, kw_only=True)
class Node:
    id: str
    lines: tuple[str, ...]
    shape: str = "box"
    """`box`, or `circle` for the internet."""


@dataclass(frozen=True, kw_only=True)
class Edge:
    source: str
    target: str
    label: str
    asynchronous: bool = False
    """An event's way: drawn dashed."""


@dataclass(frozen=True, kw_only=True)
class Architecture:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _node_id(service: str) -> str:
    return "svc_" + re.sub(r"[^A-Za-z0-9]", "_", service)


def _listener_summary(rendering: Rendering) -> str:
    parts = []
    for listener in sorted(
        rendering.of_type("aws:lb/listener:Listener"), key=lambda r: -r.inputs["port"]
    ):
        inputs = listener.inputs
        action = inputs["defaultActions"][0]
        if action["type"] == "redirect":
            parts.append(f"{inputs['protocol']} {inputs['port']}→{action['redirect']['port']}")
        else:
            parts.append(f"{inputs['protocol']} {inputs['port']}")
    return ", ".join(parts)


def _call_label(callee: ServiceRow) -> str:
    # Under Service Connect a caller's proxy serves the callee at its client alias.
    if callee.client_alias is not None:
        return f"Service Connect {callee.client_alias}"
    return f"{callee.dns_name}:{callee.port}"


def _service_node(row: ServiceRow) -> Node:
    return Node(
        id=_node_id(row.ecs_name),
        lines=(row.ecs_name, row.dns_name, f"tasks {row.count}", f"cpu/mem {row.size}"),
    )


def _service_stack_architecture(rendering: Rendering, platform: Rendering) -> Architecture:
    """A service stack's services, the platform's load balancer where it routes to them, and
    the services that call them."""
    endpoints = {row.ecs_name: row for row in service_rows(platform)}
    nodes: list[Node] = []
    edges: list[Edge] = []
    callers: dict[str, Node] = {}
    own = service_rows(rendering)
    for row in own:
        endpoint = endpoints.get(row.ecs_name)
        if endpoint is None:
            nodes.append(_service_node(row))
            continue
        dns = row.dns_name if row.client_alias is not None else endpoint.dns_name
        merged = ServiceRow(
            ecs_name=row.ecs_name,
            dns_name=dns,
            port=row.port if row.port != "-" else endpoint.port,
            size=row.size,
            count=row.count,
            routes=endpoint.routes,
            callers=endpoint.callers,
            client_alias=row.client_alias,
        )
        nodes.append(_service_node(merged))
        for caller in endpoint.callers:
            if caller == LOAD_BALANCER:
                listeners = _listener_summary(platform)
                callers.setdefault(INTERNET, Node(id=INTERNET, lines=("Internet",), shape="circle"))
                callers.setdefault(
                    ALB, Node(id=ALB, lines=("Application Load Balancer", listeners))
                )
                edges.append(
                    Edge(source=ALB, target=_node_id(row.ecs_name), label=", ".join(merged.routes))
                )
                continue
            if caller not in {r.ecs_name for r in own}:
                callers.setdefault(
                    caller, Node(id=_node_id(caller), lines=(caller, "(its own stack)"))
                )
            edges.append(
                Edge(
                    source=_node_id(caller),
                    target=_node_id(row.ecs_name),
                    label=_call_label(merged),
                )
            )
    if ALB in callers:
        listeners = callers[ALB].lines[1]
        edges.insert(0, Edge(source=INTERNET, target=ALB, label=listeners))
    return Architecture(nodes=(*callers.values(), *nodes), edges=tuple(edges))


def architecture(rendering: Rendering) -> Architecture:
    if rendering.platform is not None:
        return _with_events(rendering, _service_stack_architecture(rendering, rendering.platform))
    rows = service_rows(rendering)
    listeners = _listener_summary(rendering)
    nodes = [
        Node(id=INTERNET, lines=("Internet",), shape="circle"),
        Node(id=ALB, lines=("Application Load Balancer", listeners)),
    ]
    edges = [Edge(source=INTERNET, target=ALB, label=listeners)]
    dns_by_service = {row.ecs_name: row for row in rows}
    for row in rows:
        nodes.append(_service_node(row))
        for caller in row.callers:
            if caller == LOAD_BALANCER:
                edges.append(
                    Edge(source=ALB, target=_node_id(row.ecs_name), label=", ".join(row.routes))
                )
            elif caller in dns_by_service:
                edges.append(
                    Edge(
                        source=_node_id(caller),
                        target=_node_id(row.ecs_name),
                        label=_call_label(row),
                    )
                )
    return _with_events(rendering, Architecture(nodes=tuple(nodes), edges=tuple(edges)))


def _topic_id(name: str) -> str:
    return "topic_" + re.sub(r"[^A-Za-z0-9]", "_", name)


def _reference(value: object) -> str | None:
    """`${<logical name>.<attribute>}` -> the logical name."""
    match = re.fullmatch(r"\$\{([^.}]+)\.[^}]+\}", value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _service_of(resource: RecordedResource, resources: Sequence[RecordedResource]) -> str | None:
    """The ECS service whose component holds `resource` (a relay's function, a queue)."""
    by_urn = {r.urn: r for r in resources}
    parent = resource.parent
    while parent is not None and parent in by_urn:
        component = by_urn[parent]
        if component.type == "microservices:ecs_service:EcsService":
            services = [
                r
                for r in resources
                if r.type == "aws:ecs/service:Service" and r.parent == component.urn
            ]
            return str(services[0].inputs["name"]) if services else None
        parent = component.parent
    return None


def event_edges(rendering: Rendering, known: set[str]) -> tuple[list[Node], list[Edge]]:
    """Each publisher's relay to its topic, and the topic to each subscriber's queue; topics
    and services not among `known` node ids (another stack's) get a node of their own."""
    platform = rendering.platform.resources if rendering.platform is not None else []
    everything = [*rendering.resources, *platform]
    topics = {
        r.name: str(r.inputs.get("name"))
        for r in everything
        if r.type == "aws:sns/topic:Topic" and r.inputs.get("fifoTopic")
    }
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []

    def node(node_id: str, lines: tuple[str, ...]) -> None:
        if node_id not in known and node_id not in nodes:
            nodes[node_id] = Node(id=node_id, lines=lines)

    for function in rendering.of_type("aws:lambda/function:Function"):
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        topic = _reference(variables.get("EVENTS_TOPIC_ARN"))
        publisher = _service_of(function, rendering.resources)
        if topic not in topics or publisher is None:
            continue
        node(_topic_id(topics[topic]), ("SNS FIFO topic", topics[topic]))
        label = "events " + str(variables.get("PUBLISHES", "")).replace(",", ", ")
        edges.append(
            Edge(
                source=_node_id(publisher),
                target=_topic_id(topics[topic]),
                label=f"{label} (table stream, relay)",
                asynchronous=True,
            )
        )
    queues = {r.name: r for r in rendering.of_type("aws:sqs/queue:Queue")}
    for subscription in rendering.of_type("aws:sns/topicSubscription:TopicSubscription"):
        topic = _reference(subscription.inputs.get("topic"))
        queue = queues.get(_reference(subscription.inputs.get("endpoint")) or "")
        subscriber = _service_of(queue, rendering.resources) if queue is not None else None
        if topic not in topics or queue is None or subscriber is None:
            continue
        node(_topic_id(topics[topic]), ("SNS FIFO topic", topics[topic]))
        node(_node_id(subscriber), (subscriber, "(its own stack)"))
        events = json.loads(subscription.inputs.get("filterPolicy") or "{}").get("type", [])
        edges.append(
            Edge(
                source=_topic_id(topics[topic]),
                target=_node_id(subscriber),
                label=f"{', '.join(events)} (SQS FIFO {queue.inputs.get('name')})",
                asynchronous=True,
            )
        )
    for edge in edges:
        if edge.source.startswith("svc_"):
            node(edge.source, (edge.source.removeprefix("svc_"), "(its own stack)"))
    return list(nodes.values()), edges


def _with_events(rendering: Rendering, graph: Architecture) -> Architecture:
    nodes, edges = event_edges(rendering, {n.id for n in graph.nodes})
    return Architecture(nodes=(*graph.nodes, *nodes), edges=(*graph.edges, *edges))


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: Architecture) -> str:
    lines = ["flowchart LR"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        if node.shape == "circle":
            lines.append(f'  {node.id}(("{label}"))')
        else:
            lines.append(f'  {node.id}["{label}"]')
    for edge in graph.edges:
        arrow = "-.->" if edge.asynchronous else "-->"
        lines.append(f'  {edge.source} {arrow}|"{_mermaid_text(edge.label)}"| {edge.target}')
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: Architecture) -> str:
    lines = [
        "digraph architecture {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        label = "\\n".join(_dot_text(line) for line in node.lines)
        lines.append(f'  {node.id} [shape={node.shape}, label="{label}"];')
    for edge in graph.edges:
        style = ", style=dashed" if edge.asynchronous else ""
        lines.append(f'  {edge.source} -> {edge.target} [label="{_dot_text(edge.label)}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_image(dot_source: str, image_format: str) -> bytes:
    """SVG or PNG bytes from DOT source, through Graphviz's `dot`."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizError(
            f"--format {image_format} needs Graphviz's `dot`, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
            "--format mermaid and --format dot need nothing"
        )
    result = subprocess.run(
        [dot, f"-T{image_format}"], input=dot_source.encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        raise GraphvizError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
