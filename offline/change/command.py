"""`python -m offline diff BASE HEAD`: resources and properties that differ between two stacks or
saved documents. Exits 1 when there are changes, as diff(1) does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from offline.change.diff import diff
from offline.change.moves import with_moves
from offline.change.present import format_markdown, format_text
from offline.preview import document
from offline.render.cli import EXIT_CHANGES, EXIT_OK, UserError, render_stack
from offline.render.environments import environment
from offline.render.harness import Rendering
from offline.render.stackfile import available_stacks


def add_diff_parser(commands: Any) -> None:
    compare = commands.add_parser(
        "diff", help="resources and properties that differ between two stacks or documents"
    )
    compare.add_argument("base", help="a stack name, or a document saved by `preview --json`")
    compare.add_argument("head", help="a stack name, or a document saved by `preview --json`")
    compare.add_argument("--format", choices=("text", "markdown"), default="text")


def _side(argument: str, project_dir: Path) -> tuple[Rendering, str]:
    """A diff side: a saved document if the argument is a file (or ends in .json)."""
    path = Path(argument)
    if path.suffix == ".json" or path.is_file():
        try:
            return document.load(path), str(path)
        except document.DocumentError as error:
            raise UserError(str(error)) from None
    if argument not in available_stacks(project_dir):
        stacks = ", ".join(available_stacks(project_dir)) or "none"
        raise UserError(f"'{argument}' is neither a saved document nor a stack (stacks: {stacks})")
    return render_stack(argument, project_dir), argument


def run_diff(args: argparse.Namespace, project_dir: Path) -> int:
    base, base_label = _side(args.base, project_dir)
    head, head_label = _side(args.head, project_dir)
    result = diff(base, head)
    if result.removed and head_label in available_stacks(project_dir):
        # Toward a platform: what its service stacks take over moves, it is not removed.
        head_environment = environment(head_label, project_dir)
        if head_environment.stack == head_label and head_environment.service_stacks:
            renders = {s: render_stack(s, project_dir) for s in head_environment.service_stacks}
            result = with_moves(result, base, head, renders)
    formatter = format_markdown if args.format == "markdown" else format_text
    sys.stdout.write(formatter(result, base_label, head_label))
    return EXIT_OK if result.empty else EXIT_CHANGES
