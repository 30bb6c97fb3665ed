"""`python -m offline cost`: the estimated monthly cost, line by line, or its JSON document."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from offline.estimates import cost
from offline.render.cli import EXIT_OK, render_stack


def add_cost_parser(commands: Any) -> None:
    estimate = commands.add_parser("cost", help="the estimated monthly cost, line by line")
    estimate.add_argument("--stack", default="dev", help="stack name (default: dev)")
    estimate.add_argument("--json", action="store_true", help="the JSON document instead")


def run_cost(args: argparse.Namespace, project_dir: Path) -> int:
    estimated = cost.estimate(render_stack(args.stack, project_dir))
    sys.stdout.write(cost.dumps(estimated) if args.json else cost.to_text(estimated))
    return EXIT_OK
