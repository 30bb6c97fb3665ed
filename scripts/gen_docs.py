"""Regenerate the committed docs that follow the catalog and the policy pack, in place.

Each generated section sits between two marker lines and is rewritten whole:

    README.md          <!-- graph: prod --> ... <!-- /graph -->      `make graph STACK=prod`
    README.md          <!-- services --> ... <!-- /services -->      the services table
    docs/security.md   <!-- controls --> ... <!-- /controls -->      the policy pack's controls

    .venv/bin/python scripts/gen_docs.py            rewrite the sections that are stale (make docs)
    .venv/bin/python scripts/gen_docs.py --check    list stale sections and exit 1; write nothing

A missing file or marker is an error (exit 2), as is a stack config the graph cannot be drawn
from: a section that silently stops being generated would go stale unnoticed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts scripts/ first on the path, not the project.
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from config import callers_first  # noqa: E402
from config.limits import LISTENER_PRIORITY_RANGE  # noqa: E402
from services import CATALOG, RouteSpec, ServiceSpec  # noqa: E402

EXIT_OK = 0
EXIT_STALE = 1
EXIT_ERROR = 2
GRAPH_STACK = "prod"
SERVICES_HEADER = (
    "| service (ECS name) | Cloud Map name | container | port | public route | calls |",
    "|---|---|---|---|---|---|",
)


class MissingMarkerError(Exception):
    """A file or marker a section needs is not there."""


class GenerationError(Exception):
    """A section's content cannot be generated, e.g. the stack's config is invalid."""


@dataclass(frozen=True, kw_only=True)
class Section:
    path: str
    """Relative to the project directory."""
    start: str
    end: str
    generate: Callable[[], str]
    """The text between the marker lines: whole lines, ending with a newline."""

    @property
    def label(self) -> str:
        return f"{self.path} {self.start}"


# --- what the sections hold ------------------------------------------------------------------


def _route_text(route: RouteSpec) -> str:
    paths = " or ".join(f"`{p}`" for p in route.path_patterns)
    hosts = " or ".join(f"`{h}`" for h in route.host_patterns)
    match = f"{paths} on host {hosts}" if paths and hosts else paths or f"host {hosts}"
    text = f"ALB {match}, priority {route.priority}"
    # The ALB evaluates rules lowest number first, so the highest number is the catch-all's.
    if route.priority == LISTENER_PRIORITY_RANGE[1]:
        text += " (lowest precedence)"
    return text


def services_table(catalog: Mapping[str, ServiceSpec]) -> str:
    """The README's services table, from the specs; callees come before their callers."""
    rows = list(SERVICES_HEADER)
    for name in reversed(callers_first(catalog)):
        spec = catalog[name]
        routes = "; ".join(_route_text(r) for r in spec.routes) or "none"
        calls = ", ".join(f"`{callee}`" for callee in spec.calls) or "none"
        rows.append(
            f"| `{spec.name}` | `{spec.discovery_name}` | `{spec.container_name}` "
            f"| {spec.container_port} | {routes} | {calls} |"
        )
    return "\n".join(rows) + "\n"


def architecture_graph(stack: str = GRAPH_STACK) -> str:
    """`make graph STACK=<stack>` as a fenced Mermaid block."""
    # Imported here: only this section needs the Pulumi SDKs and a render.
    import pulumi

    from offline.preview.graph import architecture, to_mermaid
    from offline.render.environments import render_environment

    try:
        # The whole environment, as `make graph` draws it, however its stacks are split.
        rendering = render_environment(stack, PROJECT)
    except pulumi.RunError as error:  # the stack's config is invalid
        raise GenerationError(f"cannot draw the graph of {stack}: {error}") from None
    return "```mermaid\n" + to_mermaid(architecture(rendering)) + "```\n"


def controls_table() -> str:
    # The pack is a directory of its own (its own virtualenv), not a package of the project.
    policy_dir = str(PROJECT / "policy")
    if policy_dir not in sys.path:
        sys.path.insert(0, policy_dir)
    from policies import controls_table as table

    return table()


SECTIONS: tuple[Section, ...] = (
    Section(
        path="README.md",
        start=f"<!-- graph: {GRAPH_STACK} -->",
        end="<!-- /graph -->",
        generate=architecture_graph,
    ),
    Section(
        path="README.md",
        start="<!-- services -->",
        end="<!-- /services -->",
        generate=lambda: services_table(CATALOG),
    ),
    Section(
        path="docs/security.md",
        start="<!-- controls -->",
        end="<!-- /controls -->",
        generate=controls_table,
    ),
)


# --- reading and writing the files -----------------------------------------------------------


def _span(text: str, section: Section) -> tuple[int, int]:
    """Where the section's body starts and ends: the lines between its two marker lines."""
    start = text.find(section.start + "\n")
    if start < 0:
        raise MissingMarkerError(f"{section.path}: marker {section.start} is missing")
    body = start + len(section.start) + 1
    end = text.find(section.end, body)
    if end < 0:
        raise MissingMarkerError(
            f"{section.path}: marker {section.end} is missing after {section.start}"
        )
    return body, end


def current(root: Path, section: Section) -> str:
    """The section's text as committed."""
    path = root / section.path
    if not path.is_file():
        raise MissingMarkerError(f"{section.path}: file is missing (it holds {section.start})")
    text = path.read_text()
    body, end = _span(text, section)
    return text[body:end]


def missing_markers(root: Path, sections: tuple[Section, ...] = SECTIONS) -> list[str]:
    """Every missing file or marker, found before anything is generated or written."""
    problems = []
    for section in sections:
        try:
            current(root, section)
        except MissingMarkerError as error:
            problems.append(str(error))
    return problems


def stale_sections(
    root: Path, sections: tuple[Section, ...] = SECTIONS
) -> list[tuple[Section, str]]:
    """Each section whose text differs from what it generates, with the generated text."""
    stale = []
    for section in sections:
        generated = section.generate()
        if current(root, section) != generated:
            stale.append((section, generated))
    return stale


def write(root: Path, stale: list[tuple[Section, str]]) -> None:
    for section, generated in stale:
        path = root / section.path
        text = path.read_text()
        body, end = _span(text, section)
        path.write_text(text[:body] + generated + text[end:])


def _close_event_loop() -> None:
    """Close the loop the mock runtime ran on, so that nothing complains at exit."""
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running() and not loop.is_closed():
            loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="list stale sections and exit 1; write nothing"
    )
    args = parser.parse_args(argv)
    try:
        missing = missing_markers(PROJECT, SECTIONS)
        for problem in missing:
            print(f"error: {problem}", file=sys.stderr)
        if missing:
            return EXIT_ERROR
        stale = stale_sections(PROJECT, SECTIONS)
    except GenerationError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if argv is None:  # the command line, not a caller in this process
            _close_event_loop()
    if args.check:
        for section, _ in stale:
            print(f"stale: {section.label}")
        if stale:
            print("run `make docs` to regenerate them")
        return EXIT_STALE if stale else EXIT_OK
    write(PROJECT, stale)
    for section, _ in stale:
        print(f"regenerated: {section.label}")
    if not stale:
        print("every generated section is current")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
