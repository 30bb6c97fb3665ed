"""SNS and SQS: the events between services (docs/events.md): each role reaches its own
service's queue and topic only (`aws:sqs/...`, `aws:sns/...`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pulumi_policy import PolicyResource

from policies.control import ROLE_POLICY, Declared

SNS_TOPIC = "aws:sns/topic:Topic"
SQS_QUEUE = "aws:sqs/queue:Queue"
_ROLE = re.compile(r"^(?P<owner>.+)-(?:task|relay)-role$")
_PLATFORM_SHARE = re.compile(r"^(?P<platform>.+)-events-(?P<service>.+)-(?:topic|relay-failures)$")
"""A publisher's share of the platform's transport: its topic and its relay's failure queue
(`<platform>-events-<service>-...`), which belong to `<platform>-<service>`."""

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


def owner_of(resource_name: str) -> str | None:
    """The service component a topic or queue belongs to: `<platform>-<service>` for the
    platform's share of a publisher, None for one of the platform's own (the alert topic)."""
    share = _PLATFORM_SHARE.fullmatch(resource_name)
    if share is not None:
        return f"{share['platform']}-{share['service']}"
    return None


@declare.stack(
    name="events-own-queue-and-topic-only",
    ids="project",
    description=(
        "A service's task role and its relay's role reach no other service's events queue or topic."
    ),
    how=(
        "A subscriber's task role receives from its own queue alone, and a publisher's relay "
        "publishes to its own topic and reports to its own failure queue "
        "(components/events/); no other role is granted either."
    ),
    scope="all",
    on_unknown="allow",
)
def _roles_reach_own_events_only(
    resources: Sequence[PolicyResource],
) -> Iterable[tuple[str, str | None]]:
    """Ownership is read from names, as dynamodb-own-table-only reads it: a service's
    resources are named from its component (`<component>-task-role`, `<component>-relay-role`,
    `<component>-events-queue`), and the platform names a publisher's topic and failure queue
    `<platform>-events-<service>-...`. A topic or queue of a stack reference (a service stack's
    view of its platform) is no resource of the stack: the platform's own run checks it."""
    for policy in resources:
        if policy.resource_type != ROLE_POLICY:
            continue
        dependencies = policy.property_dependencies
        owners = [
            match["owner"]
            for role in dependencies.get("role", [])
            if (match := _ROLE.fullmatch(role.name)) is not None
        ]
        reached = [
            resource
            for resource in dependencies.get("policy", [])
            if resource.resource_type in (SNS_TOPIC, SQS_QUEUE)
        ]
        for owner in owners:
            for resource in reached:
                mine = resource.name.startswith(f"{owner}-") or owner_of(resource.name) == owner
                if not mine:
                    kind = "topic" if resource.resource_type == SNS_TOPIC else "queue"
                    yield (
                        f"the role of {owner} reaches {resource.name}, a {kind} that is not its "
                        "own: give each service's roles its own events queue and topic only",
                        policy.urn,
                    )


CONTROLS = declare.controls()
