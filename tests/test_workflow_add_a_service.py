"""README.md, "Adding a service", followed as written in a copy of the project: its commands
run as they stand and its specs copied as they stand; then `make local` runs the new app, every
stack previews, and `make test` passes there (tests/workflows.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services import CATALOG
from tests.workflows import (
    CHECK_LOCAL,
    README,
    VENV,
    blocks,
    commands,
    copy_project,
    previews_and_tests,
    run,
    section,
    shell_line,
    shown,
)

# A copy of the project running its fast tier: make test-all.
pytestmark = pytest.mark.slow


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
