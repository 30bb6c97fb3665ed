"""The layout's import direction (docs/layout.md): the parts in components/ never import config,
offline or the composition layer; config never imports components; apps/ knows nothing of
Pulumi or the program; offline's jobs import one way (ANCHORS rule 8, with the exceptions
docs/layout.md names); and every folder of code stays within the sizes the issue set."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
COMPOSITION = ("components.platform", "components.platform_reference", "components.service_runtime")
PARTS = ("network", "edge", "compute", "data", "observability", "events")
# offline/'s jobs and what each may import from offline/ (text.py: anyone).
OFFLINE_ALLOWED = {
    "render": {"render"},
    "estimates": {"estimates", "render"},
    "preview": {"preview", "render", "estimates"},
    "change": {"change", "render", "estimates"},
    "delivery": {"delivery", "render"},
}
# Where offline/ departs from rule 8, and why (docs/layout.md says so too).
OFFLINE_EXCEPTIONS = {
    # `diff` takes a document saved by `preview --json` as either side: it reads it back.
    ("offline/change/command.py", "preview"),
}


def imports_of(path: Path) -> set[str]:
    """The modules a file imports, absolute names; relative imports resolved."""
    package = ".".join(path.relative_to(PROJECT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (PROJECT / folder).rglob("*.py") if "venv" not in p.parts)


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_parts_import_neither_config_nor_offline_nor_the_composition_layer() -> None:
    parts = [p for part in PARTS for p in python_files(f"components/{part}")]
    parts.append(PROJECT / "components" / "key_policy.py")
    assert len(parts) > 20
    for path in parts:
        wrong = sorted(m for m in imports_of(path) if under(m, "config", "offline", *COMPOSITION))
        assert not wrong, f"{path.relative_to(PROJECT)} imports {wrong}"


def test_a_part_imports_another_part_only_for_what_it_builds_on() -> None:
    # compute builds on observability (alarms, tracing), data (its table) and events (its
    # relay and its queue); nothing else
    # crosses between parts: the composition layer wires them together.
    allowed = {
        "network": set(),
        "edge": set(),
        "compute": {"observability", "data", "events"},
        "data": set(),
        "observability": set(),
        "events": set(),
    }
    for part in PARTS:
        for path in python_files(f"components/{part}"):
            others = {
                m.split(".")[1]
                for m in imports_of(path)
                if under(m, *(f"components.{p}" for p in PARTS))
            } - {part}
            assert others <= allowed[part], f"{path.relative_to(PROJECT)} imports {others}"


def test_config_never_imports_components_or_offline() -> None:
    for path in python_files("config"):
        wrong = sorted(m for m in imports_of(path) if under(m, "components", "offline"))
        assert not wrong, f"{path.relative_to(PROJECT)} imports {wrong}"


def test_services_know_nothing_of_environments_or_resources() -> None:
    for path in python_files("services"):
        wrong = sorted(
            m for m in imports_of(path) if under(m, "config", "components", "offline", "pulumi")
        )
        assert not wrong, f"{path.relative_to(PROJECT)} imports {wrong}"


def test_apps_know_nothing_of_pulumi_or_the_program() -> None:
    for path in python_files("apps"):
        wrong = sorted(
            m
            for m in imports_of(path)
            if under(m, "pulumi", "pulumi_aws", "pulumi_awsx", "components", "config", "offline")
            or under(m, "services", "naming", "policies")
        )
        assert not wrong, f"{path.relative_to(PROJECT)} imports {wrong}"


def test_offline_jobs_import_one_way() -> None:
    for job, allowed in OFFLINE_ALLOWED.items():
        for path in python_files(f"offline/{job}"):
            used = {
                m.split(".")[1]
                for m in imports_of(path)
                if under(m, "offline") and len(m.split(".")) > 1
            } - {"text"}
            relative = path.relative_to(PROJECT).as_posix()
            wrong = {j for j in used - allowed if (relative, j) not in OFFLINE_EXCEPTIONS}
            assert not wrong, f"{relative} imports offline.{sorted(wrong)}"
    for relative, job in OFFLINE_EXCEPTIONS:
        assert any(under(m, f"offline.{job}") for m in imports_of(PROJECT / relative)), (
            f"{relative} no longer imports offline.{job}: drop the exception"
        )


@pytest.mark.parametrize(
    "folder", ["components", "config", "apps", "offline", "policy", "scripts", "services", "."]
)
def test_no_module_outgrows_its_folder(folder: str) -> None:
    limit = 500 if folder in ("components", "config", "apps") else 800
    paths = python_files(folder) if folder != "." else sorted(PROJECT.glob("*.py"))
    assert paths
    for path in paths:
        lines = len(path.read_text().splitlines())
        assert lines <= limit, f"{path.relative_to(PROJECT)}: {lines} lines (at most {limit})"


def test_no_folder_of_code_holds_more_than_16_modules_or_4000_lines() -> None:
    folders: dict[Path, list[int]] = defaultdict(lambda: [0, 0])
    for top in ("components", "config", "apps", "offline", "policy", "scripts", "services"):
        for path in python_files(top):
            entry = folders[path.parent]
            entry[0] += 1
            entry[1] += len(path.read_text().splitlines())
    for folder, (modules, lines) in folders.items():
        name = folder.relative_to(PROJECT)
        assert modules <= 16, f"{name}: {modules} modules side by side"
        assert lines <= 4000, f"{name}: {lines} lines side by side"
