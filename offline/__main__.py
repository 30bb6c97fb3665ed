"""`python -m offline preview [--stack S]`: what `pulumi preview` would create, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from offline.harness import render
from offline.report import preview_text
from offline.stackfile import StackFileError, find_project_dir

EXIT_OK = 0
EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline",
        description="Render this Pulumi program offline, under the SDK's mock runtime.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    preview = commands.add_parser("preview", help="print what `pulumi preview` would create")
    preview.add_argument("--stack", default="dev", help="stack name (default: dev)")
    args = parser.parse_args(argv)

    try:
        rendering = render(args.stack, project_dir=find_project_dir(Path.cwd()))
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    sys.stdout.write(preview_text(rendering))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
