"""`python -m offline preview` (what `pulumi preview` would create, as text or the JSON
document) and `python -m offline graph` (the architecture, as Mermaid, DOT or an image)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from offline.preview import document
from offline.preview.graph import architecture, render_image, to_dot, to_mermaid
from offline.preview.report import preview_text
from offline.render.cli import EXIT_OK, render_stack


def add_preview_parser(commands: Any) -> None:
    preview = commands.add_parser("preview", help="what `pulumi preview` would create")
    preview.add_argument("--stack", default="dev", help="stack name (default: dev)")
    preview.add_argument("--json", action="store_true", help="the stable JSON document instead")


def run_preview(args: argparse.Namespace, project_dir: Path) -> int:
    rendering = render_stack(args.stack, project_dir)
    sys.stdout.write(document.dumps(rendering) if args.json else preview_text(rendering))
    return EXIT_OK


def add_graph_parser(commands: Any) -> None:
    graph = commands.add_parser("graph", help="the architecture: ALB, services and their calls")
    graph.add_argument("--stack", default="dev", help="stack name (default: dev)")
    graph.add_argument("--format", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    graph.add_argument("-o", "--output", type=Path, help="write to this file, not stdout")


def _write(output: Path | None, content: str | bytes) -> None:
    if output is not None:
        output.write_bytes(content if isinstance(content, bytes) else content.encode())
    elif isinstance(content, bytes):
        sys.stdout.buffer.write(content)
    else:
        sys.stdout.write(content)


def run_graph(args: argparse.Namespace, project_dir: Path) -> int:
    # A platform's graph shows its services as its service stacks run them.
    graph = architecture(render_stack(args.stack, project_dir, whole_environment=True))
    if args.format == "mermaid":
        _write(args.output, to_mermaid(graph))
    elif args.format == "dot":
        _write(args.output, to_dot(graph))
    else:
        _write(args.output, render_image(to_dot(graph), args.format))
    return EXIT_OK
