"""The offline tools' command line:
`python -m offline preview | diff | graph | cost | affected | deploy-policy | new-service`.

Exit codes: 0 success (for `diff`: no changes), 1 `diff` found changes, 2 a user error (bad
config, unknown stack, unreadable document, missing Graphviz, a region with no price file),
as diff(1) does. `affected` (the stacks a change between two git revisions affects) exits 0
or 2 (bad revision, no git checkout).

Each job's package holds its commands (an `add_*_parser` and a `run_*` each); this module only
collects them, in the order `--help` lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offline.change.command import add_diff_parser, run_diff
from offline.delivery.affected import add_affected_parser, run_affected
from offline.delivery.deploy_policy import add_deploy_policy_parser, run_deploy_policy
from offline.delivery.scaffold import add_scaffold_parser, run_scaffold
from offline.estimates import cost
from offline.estimates.command import add_cost_parser, run_cost
from offline.preview.command import add_graph_parser, add_preview_parser, run_graph, run_preview
from offline.preview.graph import GraphvizError
from offline.render.cli import EXIT_CHANGES, EXIT_OK, EXIT_USER_ERROR, UserError
from offline.render.stackfile import StackFileError, find_project_dir

__all__ = ["EXIT_CHANGES", "EXIT_OK", "EXIT_USER_ERROR", "main"]

Run = Callable[[argparse.Namespace, Path], int]
COMMANDS: tuple[tuple[str, Callable[[Any], None], Run], ...] = (
    ("preview", add_preview_parser, run_preview),
    ("diff", add_diff_parser, run_diff),
    ("graph", add_graph_parser, run_graph),
    ("cost", add_cost_parser, run_cost),
    ("affected", add_affected_parser, run_affected),
    ("deploy-policy", add_deploy_policy_parser, run_deploy_policy),
    ("new-service", add_scaffold_parser, run_scaffold),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m offline",
        description="Render this Pulumi program offline, under the SDK's mock runtime: no AWS "
        "account and no Pulumi CLI needed.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for _, add_parser, _ in COMMANDS:
        add_parser(commands)
    return parser


def run(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(Path.cwd())
    runs = {name: run_command for name, _, run_command in COMMANDS}
    return runs[args.command](args, project_dir)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (UserError, StackFileError, GraphvizError, cost.CostError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
