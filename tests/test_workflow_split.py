"""docs/split-stacks.md, "Setting one up", followed in a copy of the project: prod becomes a
platform stack and one service stack per service, the order-service stack file copied as it
stands; then the diff from the saved all-in-one document moves resources instead of removing
them, every stack previews, and `make test` passes there (tests/workflows.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from offline.render.environments import environment_document
from services import CATALOG
from tests.workflows import (
    SPLIT_DOC,
    VENV,
    blocks,
    copy_project,
    make,
    previews_and_tests,
    run,
    section,
    shown,
)

# A copy of the project running its fast tier: make test-all.
pytestmark = pytest.mark.slow


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
