"""The catalog's events: who publishes what, who receives what from whom (no rules: those are
in rules/events.py)."""

from __future__ import annotations

from collections.abc import Mapping

from services import ServiceSpec


def entity(event: str) -> str:
    """`user` of `user.created`."""
    return event.split(".", 1)[0]


def verb(event: str) -> str:
    """`created` of `user.created`."""
    return event.split(".", 1)[-1]


def publishers(catalog: Mapping[str, ServiceSpec]) -> dict[str, list[str]]:
    """Event -> the services that publish it (one, once the catalog is valid)."""
    found: dict[str, list[str]] = {}
    for spec in catalog.values():
        for event in spec.publishes:
            found.setdefault(event, []).append(spec.name)
    return found


def subscriptions(
    spec: ServiceSpec, catalog: Mapping[str, ServiceSpec]
) -> dict[str, tuple[str, ...]]:
    """Publisher -> the events `spec` receives from it, in the order the publisher lists them."""
    wanted = set(spec.subscribes)
    return {
        other.name: tuple(event for event in other.publishes if event in wanted)
        for other in catalog.values()
        if other.name != spec.name and wanted & set(other.publishes)
    }


def subscribers(publisher: str, catalog: Mapping[str, ServiceSpec]) -> tuple[str, ...]:
    """The services that receive at least one of `publisher`'s events."""
    return tuple(
        spec.name for spec in catalog.values() if publisher in subscriptions(spec, catalog)
    )
