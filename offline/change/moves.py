"""Resources that move to a service stack when an environment is split, rather than go.

Between an all-in-one stack and the platform stack that replaces it (docs/split-stacks.md),
what the platform no longer registers but one of its service stacks does, with the same type
and logical name, is not deleted: `pulumi state move` hands it to the service stack, whose
program then finds it in its state unchanged. The diff lists those resources as moves, with
the command to run, instead of as removals.

`pulumi state move` takes the URNs of the resources to move and moves their children with
them; a moved resource whose parent stays behind is re-parented to the destination's root
stack (pulumi/pulumi, pkg/cmd/pulumi/state/state_move.go: "include all children in the list
of resources to move", and `r.Parent = rootStack.URN` for a parent not moved). The command
therefore names each moved resource whose parent is not moved: a service's EcsService
component, whose parent in the all-in-one stack is the Platform component, and which the
service stack registers at its root.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from offline.estimates import cost, rollout
from offline.render.harness import RecordedResource, Rendering

if TYPE_CHECKING:
    from offline.change import ResourceDiff

DOCS = "docs/split-stacks.md"


@dataclass(frozen=True, kw_only=True)
class Move:
    source: str
    """The stack the resources leave (the all-in-one stack, the platform's name)."""
    destination: str
    """The service stack that registers them."""
    resources: tuple[RecordedResource, ...]
    """The source's resources that move."""
    roots: tuple[RecordedResource, ...]
    """Those whose parent stays behind: what `pulumi state move` names."""

    @property
    def command(self) -> str:
        urns = " ".join(shlex.quote(resource.urn) for resource in self.roots)
        return f"pulumi state move --source {self.source} --dest {self.destination} {urns}"


def find_moves(
    base: Rendering, head: Rendering, service_stacks: Mapping[str, Rendering]
) -> tuple[Move, ...]:
    """The base's resources that `head` does not register and a service stack of its does."""
    kept = {(r.type, r.name) for r in head.resources}
    moves = []
    taken: set[str] = set()
    for stack, rendering in sorted(service_stacks.items()):
        registered = {(r.type, r.name) for r in rendering.resources}
        resources = tuple(
            r
            for r in base.resources
            if (r.type, r.name) in registered - kept and r.urn not in taken
        )
        if not resources:
            continue
        urns = {r.urn for r in resources}
        taken |= urns
        moves.append(
            Move(
                source=base.stack,
                destination=stack,
                resources=resources,
                roots=tuple(r for r in resources if r.parent not in urns),
            )
        )
    return tuple(moves)


def combined(head: Rendering, service_stacks: Mapping[str, Rendering]) -> Rendering:
    """The platform and its service stacks as one rendering: what the environment costs and
    how its services release."""
    resources = [r for rendering in (head, *service_stacks.values()) for r in rendering.resources]
    return dataclasses.replace(head, resources=sorted(resources, key=lambda r: r.urn))


def with_moves(
    result: ResourceDiff, base: Rendering, head: Rendering, service_stacks: Mapping[str, Rendering]
) -> ResourceDiff:
    """The diff with the resources that move to a service stack taken out of its removals,
    and its cost and release times those of the platform with its service stacks."""
    moves = find_moves(base, head, service_stacks)
    if not moves:
        return result
    moved = {r.urn for move in moves for r in move.resources}
    whole = combined(head, service_stacks)
    return dataclasses.replace(
        result,
        removed=tuple(r for r in result.removed if r.urn not in moved),
        moves=moves,
        cost=cost.compare(base, whole),
        rollout=rollout.compare(base, whole),
    )


def moves_text(moves: tuple[Move, ...]) -> list[str]:
    if not moves:
        return []
    lines = [f"Moves to service stacks (not deleted: `pulumi state move` hands them over; {DOCS}):"]
    for move in moves:
        lines.append(
            f"> {move.destination}: {len(move.resources)} resources "
            f"({', '.join(f'{r.type} {r.name}' for r in move.roots)}, with their children)"
        )
        lines.append(f"      {move.command}")
    return [*lines, ""]


def moves_markdown(moves: tuple[Move, ...]) -> list[str]:
    if not moves:
        return []
    lines = [
        "#### Moves to service stacks",
        "",
        f"Not deleted: `pulumi state move` hands them over ({DOCS}).",
        "",
        "| service stack | resources | command |",
        "|---|---|---|",
    ]
    for move in moves:
        command = move.command.replace("|", "\\|")
        lines.append(f"| `{move.destination}` | {len(move.resources)} | `{command}` |")
    return [*lines, ""]
