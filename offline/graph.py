"""The architecture as a graph: internet -> ALB -> routed services -> the services they call.

A call's edge names the DNS name and port the caller uses: a Cloud Map DNS record, or under
ECS Service Connect the callee's client alias.

Derived from the recorded resources (listeners, listener rules, security-group rules), so the
picture shows what the program creates. Mermaid renders on GitHub; DOT goes through Graphviz
for SVG or PNG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from offline.harness import Rendering
from offline.report import LOAD_BALANCER, service_rows

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


def architecture(rendering: Rendering) -> Architecture:
    rows = service_rows(rendering)
    listeners = _listener_summary(rendering)
    nodes = [
        Node(id=INTERNET, lines=("Internet",), shape="circle"),
        Node(id=ALB, lines=("Application Load Balancer", listeners)),
    ]
    edges = [Edge(source=INTERNET, target=ALB, label=listeners)]
    dns_by_service = {row.ecs_name: row for row in rows}
    for row in rows:
        nodes.append(
            Node(
                id=_node_id(row.ecs_name),
                lines=(row.ecs_name, row.dns_name, f"tasks {row.count}", f"cpu/mem {row.size}"),
            )
        )
        for caller in row.callers:
            if caller == LOAD_BALANCER:
                edges.append(
                    Edge(source=ALB, target=_node_id(row.ecs_name), label=", ".join(row.routes))
                )
            elif caller in dns_by_service:
                # Under Service Connect a caller's proxy serves the callee at its client alias.
                edges.append(
                    Edge(
                        source=_node_id(caller),
                        target=_node_id(row.ecs_name),
                        label=(
                            f"Service Connect {row.client_alias}"
                            if row.client_alias is not None
                            else f"{row.dns_name}:{row.port}"
                        ),
                    )
                )
    return Architecture(nodes=tuple(nodes), edges=tuple(edges))


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
        lines.append(f'  {edge.source} -->|"{_mermaid_text(edge.label)}"| {edge.target}')
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
        lines.append(f'  {edge.source} -> {edge.target} [label="{_dot_text(edge.label)}"];')
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
