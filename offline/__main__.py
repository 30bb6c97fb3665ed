"""The offline tools' command line:
`python -m offline preview | diff | graph | cost | affected | deploy-policy | new-service`.

Exit codes: 0 success (for `diff`: no changes), 1 `diff` found changes, 2 a user error (bad
config, unknown stack, unreadable document, missing Graphviz, a region with no price file),
as diff(1) does. `affected` (the stacks a change between two git revisions affects) exits 0
or 2 (bad revision, no git checkout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from offline import cost, document
from offline.affected import add_affected_parser, run_affected
from offline.deploy_policy import add_deploy_policy_parser, run_deploy_policy
from offline.diff import diff, format_markdown, format_text
from offline.environments import environment, render_environment
from offline.graph import GraphvizError, architecture, render_image, to_dot, to_mermaid
from offline.harness import Rendering, render
from offline.moves import with_moves
from offline.report import preview_text
from offline.scaffold import add_scaffold_parser, run_scaffold
from offline.stackfile import StackFileError, available_stacks, find_project_dir

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USER_ERROR = 2


class UserError(Exception):
    """A mistake of the user's: reported as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m offline",
        description="Render this Pulumi program offline, under the SDK's mock runtime: no AWS "
        "account and no Pulumi CLI needed.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    preview = commands.add_parser("preview", help="what `pulumi preview` would create")
    preview.add_argument("--stack", default="dev", help="stack name (default: dev)")
    preview.add_argument("--json", action="store_true", help="the stable JSON document instead")

    compare = commands.add_parser(
        "diff", help="resources and properties that differ between two stacks or documents"
    )
    compare.add_argument("base", help="a stack name, or a document saved by `preview --json`")
    compare.add_argument("head", help="a stack name, or a document saved by `preview --json`")
    compare.add_argument("--format", choices=("text", "markdown"), default="text")

    graph = commands.add_parser("graph", help="the architecture: ALB, services and their calls")
    graph.add_argument("--stack", default="dev", help="stack name (default: dev)")
    graph.add_argument("--format", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    graph.add_argument("-o", "--output", type=Path, help="write to this file, not stdout")

    estimate = commands.add_parser("cost", help="the estimated monthly cost, line by line")
    estimate.add_argument("--stack", default="dev", help="stack name (default: dev)")
    estimate.add_argument("--json", action="store_true", help="the JSON document instead")

    add_affected_parser(commands)
    add_deploy_policy_parser(commands)
    add_scaffold_parser(commands)
    return parser


def _render_stack(stack: str, project_dir: Path, *, whole_environment: bool = False) -> Rendering:
    """`whole_environment`: a platform stack with its service stacks (the architecture)."""
    try:
        if whole_environment and stack in available_stacks(project_dir):
            return render_environment(stack, project_dir)
        return render(stack, project_dir=project_dir)
    except pulumi.RunError as error:
        raise UserError(str(error)) from None


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
    return _render_stack(argument, project_dir), argument


def _write(output: Path | None, content: str | bytes) -> None:
    if output is not None:
        output.write_bytes(content if isinstance(content, bytes) else content.encode())
    elif isinstance(content, bytes):
        sys.stdout.buffer.write(content)
    else:
        sys.stdout.write(content)


def run(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(Path.cwd())
    if args.command == "affected":
        return run_affected(args, project_dir)
    if args.command == "deploy-policy":
        return run_deploy_policy(args, project_dir)
    if args.command == "new-service":
        return run_scaffold(args, project_dir)
    if args.command == "preview":
        rendering = _render_stack(args.stack, project_dir)
        sys.stdout.write(document.dumps(rendering) if args.json else preview_text(rendering))
        return EXIT_OK
    if args.command == "cost":
        estimated = cost.estimate(_render_stack(args.stack, project_dir))
        sys.stdout.write(cost.dumps(estimated) if args.json else cost.to_text(estimated))
        return EXIT_OK
    if args.command == "diff":
        base, base_label = _side(args.base, project_dir)
        head, head_label = _side(args.head, project_dir)
        result = diff(base, head)
        if result.removed and head_label in available_stacks(project_dir):
            # Toward a platform: what its service stacks take over moves, it is not removed.
            head_environment = environment(head_label, project_dir)
            if head_environment.stack == head_label and head_environment.service_stacks:
                renders = {
                    s: _render_stack(s, project_dir) for s in head_environment.service_stacks
                }
                result = with_moves(result, base, head, renders)
        formatter = format_markdown if args.format == "markdown" else format_text
        sys.stdout.write(formatter(result, base_label, head_label))
        return EXIT_OK if result.empty else EXIT_CHANGES
    # A platform's graph shows its services as its service stacks run them.
    graph = architecture(_render_stack(args.stack, project_dir, whole_environment=True))
    if args.format == "mermaid":
        _write(args.output, to_mermaid(graph))
    elif args.format == "dot":
        _write(args.output, to_dot(graph))
    else:
        _write(args.output, render_image(to_dot(graph), args.format))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (UserError, StackFileError, GraphvizError, cost.CostError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
