"""The catalog's events: names, who may publish them, and who may subscribe (docs/events.md)."""

from __future__ import annotations

from collections.abc import Mapping

import naming
from config.events import entity, publishers, subscriptions, verb
from config.issues import Findings, show, spec_fix
from config.limits import (
    EVENT_NAME,
    FIFO_TOPIC_SUBSCRIPTIONS_MAX,
    LAMBDA_FUNCTION_NAME,
    SNS_FIFO_TOPIC_NAME,
    SQS_FIFO_QUEUE_NAME,
    STREAM_EVENT_VERBS,
)
from services import ServiceSpec

VERBS_TEXT = ", ".join(f"<entity>.{v}" for v in STREAM_EVENT_VERBS)


def published_text(catalog: Mapping[str, ServiceSpec]) -> str:
    """What can be subscribed to: each publisher with its events."""
    listed = [
        f"{spec.name} publishes {', '.join(spec.publishes)}"
        for spec in catalog.values()
        if spec.publishes
    ]
    return "; ".join(listed) if listed else "no service publishes any event"


def check_events(
    project: str, stack: str, catalog: Mapping[str, ServiceSpec], findings: Findings
) -> None:
    """Each spec's `publishes` and `subscribes` against the others."""
    by_event = publishers(catalog)
    for spec in catalog.values():
        path = f"services.{spec.name}"
        fix = spec_fix(spec.name)
        for event in (*spec.publishes, *spec.subscribes):
            if not EVENT_NAME.match(event):
                findings.error(
                    path,
                    f"event name {show(event)} is not <entity>.<verb> in lowercase (allowed: "
                    f"{EVENT_NAME.pattern}, e.g. user.created)",
                    fix,
                )
        _check_publisher(spec, by_event, findings)
        for event in spec.subscribes:
            if not EVENT_NAME.match(event):
                continue
            if spec.name in by_event.get(event, ()):
                findings.error(
                    path,
                    f"subscribes to its own event {show(event)} (allowed: events other "
                    "services publish; a service reads its own changes from its table)",
                    fix,
                )
            elif event not in by_event:
                findings.error(
                    path,
                    f"subscribes to {show(event)}, which no service publishes (allowed: the "
                    f"events published: {published_text(catalog)})",
                    fix,
                )
        _check_names(project, stack, spec, catalog, findings)


def _check_publisher(
    spec: ServiceSpec, by_event: Mapping[str, list[str]], findings: Findings
) -> None:
    if not spec.publishes:
        return
    path = f"services.{spec.name}"
    fix = spec_fix(spec.name)
    if not spec.table:
        findings.error(
            path,
            f"publishes {', '.join(spec.publishes)} but owns no table (allowed: a publisher "
            "with table=True: its events are made from its table's stream, so that an event "
            "exists exactly when its write committed)",
            fix,
        )
    named = [event for event in spec.publishes if EVENT_NAME.match(event)]
    entities = sorted({entity(event) for event in named})
    if len(entities) > 1:
        findings.error(
            path,
            f"publishes events of {len(entities)} entities ({', '.join(entities)}) (allowed: "
            "one entity per publisher: its events are its table's items' changes)",
            fix,
        )
    for event in named:
        if verb(event) not in STREAM_EVENT_VERBS:
            findings.error(
                path,
                f"publishes {show(event)}, which its table's stream cannot make (allowed: "
                f"{VERBS_TEXT}: an item inserted, changed, removed)",
                fix,
            )
        others = [name for name in by_event.get(event, ()) if name != spec.name]
        if others:
            findings.error(
                path,
                f"publishes {show(event)}, which {', '.join(repr(o) for o in others)} publishes "
                "too (allowed: one publisher per event)",
                fix,
            )


def _check_names(
    project: str,
    stack: str,
    spec: ServiceSpec,
    catalog: Mapping[str, ServiceSpec],
    findings: Findings,
) -> None:
    """The physical names AWS limits: the topic and relay of a publisher, the queues of a
    subscriber."""
    path = f"services.{spec.name}"
    shorten = f"shorten the name of '{spec.name}' in services/, or the stack's name"
    names: list[tuple[str, str, str]] = []
    if spec.publishes:
        names.append(
            (
                naming.events_topic(project, stack, spec.name),
                "event topic",
                "up to 256 letters, digits, - and _, ending in .fifo",
            )
        )
        names.append(
            (
                naming.relay_function(project, stack, spec.name),
                "relay function",
                "up to 64 letters, digits, - and _",
            )
        )
        receivers = [s for s in catalog.values() if spec.name in subscriptions(s, catalog)]
        if len(receivers) > FIFO_TOPIC_SUBSCRIPTIONS_MAX:
            findings.error(
                path,
                f"has {len(receivers)} subscribers (allowed: at most "
                f"{FIFO_TOPIC_SUBSCRIPTIONS_MAX} subscriptions per SNS FIFO topic)",
                "split the publisher's events, or drop subscriptions in services/",
            )
    if spec.subscribes:
        for name in (
            naming.events_queue(project, stack, spec.name),
            naming.events_dead_letter_queue(project, stack, spec.name),
        ):
            names.append(
                (name, "event queue", "up to 80 letters, digits, - and _, ending in .fifo")
            )
    patterns = {
        "event topic": SNS_FIFO_TOPIC_NAME,
        "relay function": LAMBDA_FUNCTION_NAME,
        "event queue": SQS_FIFO_QUEUE_NAME,
    }
    for name, what, allowed in names:
        if not patterns[what].match(name):
            findings.error(
                path,
                f"the {what} name {show(name)} is not one AWS accepts (allowed: {allowed})",
                shorten,
            )
