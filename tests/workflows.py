"""Following the docs' workflows in a copy of the project, as a newcomer runs them: their
sections and code blocks, their commands (`make ...`, `.venv/bin/python ...`), and what every
workflow ends with: each stack previews, and `make test` passes in the copy, so a test that
pins today's catalog or today's layout fails there rather than in the next pull request that
adds a service or splits an environment.

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

from offline.render.stackfile import available_stacks

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
    # One worker: `make test-all` runs the workflows beside each other and beside its own
    # workers, and more processes than cores only queue up.
    tests = make(copy, "test", "PYTEST_WORKERS=1")
    assert tests.returncode == 0, shown(tests)
