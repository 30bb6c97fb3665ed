"""The README stays a front page, and the docs it links to stay reachable and current."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
DOCS = PROJECT / "docs"
SECURITY = DOCS / "security.md"
# The README's length besides what `make docs` generates, which grows with the catalog: with
# the add-a-service workflow, which must work when copied (and is tested so), 300 lines in all
# with the three-service graph and table.
README_MAX_LINES = 285
GENERATED = (
    ("<!-- graph: prod -->\n", "<!-- /graph -->"),
    ("<!-- services -->\n", "<!-- /services -->"),
)
# The reference material the README hands over, one page each.
DOC_PAGES = ("config.md", "security.md", "ci-cd.md", "deploy-permissions.md", "offline-tools.md")

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """The text outside fenced code blocks, where links are links."""
    return FENCE.sub("", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(h) for h in HEADING.findall(prose(path.read_text()))}


def relative_links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(path.read_text()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def between(text: str, start: str, end: str) -> str:
    assert start in text, f"marker {start} is missing"
    rest = text.split(start, 1)[1]
    assert end in rest, f"marker {end} is missing after {start}"
    return rest.split(end, 1)[0]


def controls_section() -> str:
    return between(SECURITY.read_text(), "<!-- controls -->\n", "<!-- /controls -->")


def test_readme_is_a_front_page() -> None:
    text = README.read_text()
    generated = sum(between(text, start, end).count("\n") for start, end in GENERATED)
    lines = text.count("\n") - generated
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines besides its generated sections (at most "
        f"{README_MAX_LINES}): keep it to what the "
        "project is, the two commands, the architecture, a first deploy, scaling, adding a "
        "service or a stack, and teardown; move reference material (config keys, security "
        "controls, CI/CD, tool options, IAM permissions) to docs/*.md and link it from the README"
    )


def test_readme_opens_with_the_two_commands() -> None:
    first_block = FENCE.search(README.read_text())
    assert first_block is not None, "README.md has no code block"
    commands = [line.split("#")[0].strip() for line in first_block.group(0).splitlines()[1:-1]]
    assert commands[:2] == ["make preview", "make test"], commands


@pytest.mark.parametrize("page", DOC_PAGES)
def test_each_doc_page_exists_and_the_readme_links_it(page: str) -> None:
    assert (DOCS / page).is_file(), f"docs/{page} is missing"
    assert f"docs/{page}" in relative_links(README), f"README.md does not link docs/{page}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {target.split("#")[0] for target in relative_links(README)}
    orphans = sorted(p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in linked)
    assert not orphans, f"docs pages nothing links to from README.md: {orphans}"


@pytest.mark.parametrize("source", markdown_files(), ids=lambda p: str(p.relative_to(PROJECT)))
def test_relative_links_resolve(source: Path) -> None:
    broken = []
    for target in relative_links(source):
        path_part, _, fragment = target.partition("#")
        destination = (source.parent / path_part).resolve() if path_part else source
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{source.relative_to(PROJECT)}: broken links: {broken}"


def test_generated_sections_are_in_place() -> None:
    readme = README.read_text()
    graph = between(readme, "<!-- graph: prod -->\n", "<!-- /graph -->")
    assert graph.startswith("```mermaid\n") and graph.rstrip().endswith("```")
    services = between(readme, "<!-- services -->\n", "<!-- /services -->")
    header = services.splitlines()[0]
    assert header == (
        "| service (ECS name) | Cloud Map name | container | port | public route | calls |"
    )
    assert len(services.strip().splitlines()) > 2, "the services table has no rows"
    assert controls_section().startswith("| control |")
    assert "<!-- controls -->" not in readme, "the controls table lives in docs/security.md"


def test_security_doc_controls_table_is_current() -> None:
    sys.path.insert(0, str(PROJECT / "policy"))
    from policies import controls_table

    stale = "docs/security.md's controls table is stale: run `make docs`"
    assert controls_section() == controls_table(), stale


def test_readme_names_service_modules_as_python_modules() -> None:
    # A hyphen is not valid in a module name: `services/payment-service.py` fails lint.
    readme = README.read_text()
    assert "services/<name>.py" not in readme
    assert not re.search(r"services/[a-z0-9_]*-[a-z0-9_-]*\.py", readme)
    assert "services/payment_service.py" in readme
