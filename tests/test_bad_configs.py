"""A corpus of bad stack configs (tests/bad_configs/*.yaml), each with the exact errors it
must produce. Every one is rejected before a single resource is registered."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.render.harness import render
from offline.render.stackfile import to_cli_config
from services import CATALOG, RouteSpec

CORPUS = sorted((Path(__file__).parent / "bad_configs").glob("*.yaml"))
# The catalog the corpus was written with. A message that lists every service lists the
# catalog as it is now, so adding a service does not invalidate the corpus.
CORPUS_CATALOG = ("api-gateway", "order-service", "user-service")


def expected_errors(case: dict[str, Any]) -> list[str]:
    written = f"unknown service (allowed: {', '.join(CORPUS_CATALOG)};"
    current = f"unknown service (allowed: {', '.join(sorted(CATALOG))};"
    return [error.replace(written, current) for error in case["errors"]]


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_config_is_rejected_with_its_message(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    # A case may also change specs in services/ (`specs: {name: {field: value}}`).
    for name, changes in (case.get("specs") or {}).items():
        if "routes" in changes:
            changes = {**changes, "routes": tuple(RouteSpec(**r) for r in changes["routes"])}
            taken = {
                route.priority: other
                for other, spec in CATALOG.items()
                if other != name
                for route in spec.routes
            }
            for route in changes["routes"]:
                duplicate = f"route priority {route.priority} is also used by"
                if any(duplicate in error for error in case["errors"]):
                    continue  # the duplicate is what the case is about
                # Otherwise the case would report a duplicate it was not written for.
                assert route.priority not in taken, (
                    f"{path.name}: route priority {route.priority} for {name} is already "
                    f"used by {taken[route.priority]} in services/; give the case a priority "
                    "no spec uses"
                )
        monkeypatch.setitem(CATALOG, name, dataclasses.replace(CATALOG[name], **changes))
    stack = case["stack"]
    rendering = render(
        stack, config=to_cli_config("microservices", stack, case["config"]), check=False
    )
    assert rendering.resources == [], f"{path.name}: resources were registered"
    lines = str(rendering.error).splitlines()
    errors = expected_errors(case)
    count = len(errors)
    assert lines[0] == (
        f"invalid config for stack '{stack}' ({count} problem{'s' if count != 1 else ''}):"
    )
    assert [line.strip() for line in lines[1:]] == errors
