"""The call graph between services: its order and its cycles."""

from __future__ import annotations

from collections.abc import Mapping

from services import ServiceSpec


def call_cycle(catalog: Mapping[str, ServiceSpec]) -> list[str]:
    """A call cycle as a list of names (first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> list[str]:
        state[name] = 1
        for callee in catalog[name].calls:
            if callee not in catalog or callee == name:
                continue
            if state.get(callee) == 1:
                return [*path[path.index(callee) :], callee]
            if callee not in state:
                found = visit(callee, [*path, callee])
                if found:
                    return found
        state[name] = 2
        return []

    for name in sorted(catalog):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return []


def callers_first(catalog: Mapping[str, ServiceSpec]) -> list[str]:
    """Service names ordered so that every caller comes before the services it calls."""
    ordered: list[str] = []
    remaining = dict(sorted(catalog.items()))
    while remaining:
        # A service is ready once every service that calls it is placed.
        ready = [
            name
            for name in remaining
            if not any(name in remaining[c].calls for c in remaining if c != name)
        ]
        if not ready:  # a cycle; rejected by validation
            ready = list(remaining)
        for name in ready:
            ordered.append(name)
            del remaining[name]
    return ordered


def callers_of(name: str, catalog: Mapping[str, ServiceSpec]) -> tuple[str, ...]:
    return tuple(sorted(n for n, spec in catalog.items() if name in spec.calls))
