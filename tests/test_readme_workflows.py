"""The two workflows a newcomer follows, as the docs write them, in copies of the project: each
ends with `make test` in the copy, so a test that pins today's catalog or today's layout
fails here rather than in the next pull request that adds a service or splits an environment.

- README.md, "Adding a service": its commands, run as written, and its specs, copied as they
  stand; then every stack previews, `make local` runs the new app, and `make test` passes.
- docs/split-stacks.md, "Setting one up": prod becomes a platform stack and one service stack
  per service, the order-service stack file copied as it stands; then every stack previews,
  the diff from the saved all-in-one document moves resources instead of removing them, and
  `make test` passes.

`make` runs with this virtualenv (VENV=...) and is told not to set it up again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.environments import environment_document
from offline.stackfile import available_stacks
from services import CATALOG

# Copies of the project, each running its fast tier: make test-all.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
SPLIT_DOC = PROJECT / "docs" / "split-stacks.md"
VENV = Path(sys.prefix)
TIMEOUT = 900  # seconds for one command; `make test` takes a minute or two in a copy
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "venv", "__pycache__", ".pytest_cache", ".ruff_cache"
)
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)

CHECK_LOCAL = """
import sys, urllib.request
sys.path.insert(0, "scripts")
import local
system = local.LocalSystem()
try:
    system.start()
    for service, url in system.urls.items():
        with urllib.request.urlopen(url + "/health", timeout=10) as answer:
            assert answer.status == 200, service
    print(" ".join(sorted(system.urls)))
finally:
    system.stop()
"""


def section(path: Path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of a language, in order; one indented in a list, dedented."""
    return [
        re.sub(rf"^{indent}", "", body, flags=re.MULTILINE)
        for indent, lang, body in FENCE.findall(text)
        if lang == language
    ]


def copy_project(destination: Path) -> Path:
    shutil.copytree(PROJECT, destination, ignore=IGNORED)
    return destination


def environment() -> dict[str, str]:
    # Nothing of this pytest run (its workers, its path) leaks into the copy's.
    # Nor of a make that runs it (`make test-all`): a nested make reads MAKEFLAGS and MAKELEVEL.
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
        and not k.startswith("PYTEST_")
    }


def run(copy: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=copy,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def make(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(copy, ["make", f"VENV={VENV}", "-o", f"{VENV}/.installed", *args])


def shell_line(copy: Path, line: str) -> subprocess.CompletedProcess[str]:
    """One line of a docs' shell block, as a newcomer runs it: `make ...`, or the project's
    Python (`.venv/bin/python ...`, this virtualenv's)."""
    words = shlex.split(line, comments=True)
    if words[0] == "make":
        return make(copy, *words[1:])
    if words[0] == ".venv/bin/python":
        return run(copy, [str(VENV / "bin" / "python"), *words[1:]])
    raise AssertionError(f"the docs run a command this test does not know: {line}")


def shown(result: subprocess.CompletedProcess[str], lines: int = 120) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def previews_and_tests(copy: Path) -> None:
    """What the docs promise afterwards: every stack previews, `make test` passes."""
    for stack in available_stacks(copy):
        preview = make(copy, "preview", f"STACK={stack}")
        assert preview.returncode == 0, shown(preview)
        assert "Warnings:" not in preview.stdout, shown(preview)
    tests = make(copy, "test")
    assert tests.returncode == 0, shown(tests)


def test_adding_a_service_as_the_readme_shows(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "project")
    text = section(README, "Adding a service")
    shell, python = blocks(text, "sh"), blocks(text, "python")
    assert len(shell) == 3 and len(python) == 2, "the section's blocks changed: update this test"

    # `make test` runs once, at the end, over everything the section does.
    for line in commands(shell[0]):
        if line.split("#")[0].strip() != "make test":
            result = shell_line(copy, line)
            assert result.returncode == 0, shown(result)
    name = re.search(r'name="([^"]+)"', python[0])
    assert name is not None
    module = copy / "services" / f"{name[1].replace('-', '_')}.py"
    assert module.is_file(), "the spec the README shows replaces the one make service wrote"
    module.write_text(python[0])
    for line in commands(shell[1]):
        if line.split("#")[0].strip() != "make test":
            result = shell_line(copy, line)
            assert result.returncode == 0, shown(result)
    # An existing image: the command writes the spec the README shows.
    (line,) = commands(shell[2])
    result = shell_line(copy, line)
    assert result.returncode == 0, shown(result)
    image = re.search(r'name="([^"]+)"', python[1])
    assert image is not None
    assert (copy / "services" / f"{image[1].replace('-', '_')}.py").read_text() == python[1]

    # `make local` runs every service with an app, the new one too.
    local = run(copy, [str(VENV / "bin" / "python"), "-c", CHECK_LOCAL])
    assert local.returncode == 0, shown(local)
    started = set(local.stdout.split())
    assert started == {n for n, s in CATALOG.items() if s.build} | {name[1]}
    previews_and_tests(copy)


def test_splitting_prod_as_docs_split_stacks_shows(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "project")
    moving = section(SPLIT_DOC, "Moving an existing all-in-one environment")
    save = re.search(r"`(\.venv/bin/python -m offline preview [^`]+ > ([\w.-]+))`", moving)
    assert save is not None
    saved = run(copy, ["bash", "-c", save[1].replace(".venv/bin/python", f"{VENV}/bin/python")])
    assert saved.returncode == 0, shown(saved)

    setup = section(SPLIT_DOC, "Setting one up")
    key, order_service = blocks(setup, "yaml")
    # 1. The platform's file: the key under `config:`, the services block taken out.
    platform = copy / "Pulumi.prod.yaml"
    lines = platform.read_text().splitlines()
    start = lines.index("  microservices:services:")
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i])), len(lines)
    )
    config = lines.index("config:")
    lines = [*lines[: config + 1], key.rstrip("\n"), *lines[config + 1 : start], *lines[end:]]
    platform.write_text("\n".join(lines) + "\n")
    # 2. A service stack file per service: order-service's as the doc shows it, the others
    # alike with their own entries.
    (copy / "Pulumi.prod-order-service.yaml").write_text(order_service)
    template = yaml.safe_load(order_service)["config"]
    entries = environment_document("prod")["microservices:services"]
    for service in sorted(set(CATALOG) - {"order-service"}):
        document = {**template, "microservices:services": {service: entries.get(service) or {}}}
        text = yaml.safe_dump({"config": document}, sort_keys=False)
        (copy / f"Pulumi.prod-{service}.yaml").write_text(text)

    # The diff from the all-in-one stack moves each service's resources, removing none.
    compare = make(copy, "diff", f"BASE={save[2]}", "HEAD=prod")
    assert compare.returncode == 0, shown(compare)
    summary = compare.stdout.splitlines()[0]
    assert " 0 to remove, " in summary and " to move, " in summary, summary
    for service in CATALOG:
        assert f"pulumi state move --source prod --dest prod-{service} " in compare.stdout
    assert compare.stdout.rstrip().splitlines()[-1].startswith("make diff: ")
    previews_and_tests(copy)
