"""Stack-config keys that can never change after a stack's first deploy, and one whose change
the diff points out with what it takes (`discovery.mode`).

Each one feeds a resource input whose change makes the provider replace the resource (a
`ForceNew` attribute of terraform-provider-aws), and the replacement takes down more than the
resource itself. `python -m offline diff` warns when a change to the same stack sets one of
them to a new value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from config.schema import BLOCKS, Block

TF = "terraform-provider-aws internal/service/"


def _default(block: str, field: str) -> Callable[[str], Any]:
    """The model's default for a key that is absent: what the program uses then.

    Read defensively, as a field may not exist in every version of the schema.
    """

    def value(_stack: str) -> Any:
        model: type[Block] | None = BLOCKS.get(block)
        info = None if model is None else model.model_fields.get(field)
        return None if info is None else info.get_default(call_default_factory=True)

    return value


@dataclass(frozen=True, kw_only=True)
class ImmutableKey:
    path: str
    """The key as `pulumi config set --path` names it, e.g. `network.cidrBlock`."""
    reason: str
    source: str
    default: Callable[[str], Any]
    """The value in effect when the key is absent, for a stack name."""
    consequence: str = "must never change after the first deploy"
    """What `diff` says of a change to it."""


IMMUTABLE_KEYS: tuple[ImmutableKey, ...] = (
    ImmutableKey(
        path="network.cidrBlock",
        reason="the VPC's cidr_block is ForceNew: a new VPC replaces every subnet, security "
        "group, target group, the service-discovery namespace and the services bound to them",
        source=TF + "ec2/vpc_.go",
        default=_default("network", "cidr_block"),
    ),
    ImmutableKey(
        path="network.availabilityZoneCidrMask",
        reason="each zone's block sets every subnet's block, and a subnet's cidr_block is "
        "ForceNew: every subnet would move, and a new subnet overlapping an old one is refused",
        source=TF + "ec2/vpc_subnet.go",
        default=_default("network", "availability_zone_cidr_mask"),
    ),
    ImmutableKey(
        path="network.vpcId",
        reason="security groups (vpc_id), target groups (vpc_id) and the service-discovery "
        "namespace (vpc) are bound to their VPC with ForceNew attributes: all are replaced",
        source=TF + "ec2/vpc_security_group.go, elbv2/target_group.go, "
        "servicediscovery/private_dns_namespace.go",
        default=_default("network", "vpc_id"),
    ),
    ImmutableKey(
        path="discovery.namespace",
        reason="the namespace's name is ForceNew: a new namespace, a new discovery service for "
        "every service (namespace_id is ForceNew) and new DNS names for every caller",
        source=TF + "servicediscovery/private_dns_namespace.go, servicediscovery/service.go",
        default=lambda stack: f"{stack}.internal",
    ),
    ImmutableKey(
        path="discovery.mode",
        reason="every service keeps its Cloud Map DNS records, Service Connect registers it "
        "under another Cloud Map name (<discovery name>-sc: names are unique in a namespace), "
        "and into serviceConnect callees release first, so a caller's proxy finds them; back to "
        "cloudMapDns, set discovery.leavingServiceConnect for that `pulumi up` so that callers "
        "release first and none is left on a proxy whose callee has gone, then remove it. A "
        "split environment switches its service stacks in that order by hand "
        "(docs/service-connect.md)",
        source="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
        "service-connect-concepts.html (Deployment order)",
        default=_default("discovery", "mode"),
        consequence="switches in one `pulumi up`",
    ),
)

BY_PATH: Mapping[str, ImmutableKey] = MappingProxyType({key.path: key for key in IMMUTABLE_KEYS})
