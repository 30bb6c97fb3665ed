"""The network block: the VPC, its zones and subnets, an existing VPC, and the other stacks'
blocks it must not overlap."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping

from pydantic.alias_generators import to_camel

from config.issues import Findings, rm_command, set_command, show
from config.limits import (
    PRIVATE_RANGES,
    PRIVATE_SUBNET_PREFIX,
    PUBLIC_SUBNET_PREFIX,
    RESERVED_BY_AWS_SERVICES,
    SUBNET_ID,
    VPC_ID,
    VPC_PREFIX_RANGE,
)
from config.rules.common import _cidr
from config.schema import (
    NetworkConfig,
)
from config.stack_input import OtherStack


def check_network(network: NetworkConfig, findings: Findings) -> None:
    if network.uses_existing_vpc:
        _check_existing_vpc(network, findings)
        return
    if network.public_subnet_ids or network.private_subnet_ids:
        findings.error(
            "network.vpcId",
            "is not set but subnet ids are (allowed: vpcId with both subnet lists, or none of "
            "the three)",
            set_command("network.vpcId", "vpc-<id>"),
        )
    path = "network.cidrBlock"
    cidr = _cidr(network.cidr_block)
    if cidr is None:
        findings.error(
            path,
            f"{show(network.cidr_block)} is not an IPv4 CIDR block (allowed: a network address "
            "and mask, e.g. 10.20.0.0/16)",
            set_command(path, "10.20.0.0/16"),
        )
        return
    if not any(cidr.subnet_of(block) for block in PRIVATE_RANGES):
        findings.error(
            path,
            f"{show(network.cidr_block)} is not in a private range (allowed: within "
            "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, as AWS recommends after RFC 1918)",
            set_command(path, "10.20.0.0/16"),
        )
    elif cidr.overlaps(RESERVED_BY_AWS_SERVICES):
        findings.error(
            path,
            f"{show(network.cidr_block)} overlaps 172.17.0.0/16, which some AWS services use "
            "and AWS asks VPCs to avoid (allowed: another private range)",
            set_command(path, "10.20.0.0/16"),
        )
    # Each AZ gets an aligned block (a /19 unless pinned otherwise) for a private /20 and a
    # public /24.
    zone_mask = network.availability_zone_cidr_mask
    low, _ = VPC_PREFIX_RANGE
    if "availability_zone_cidr_mask" in network.model_fields_set and low <= cidr.prefixlen:
        fits = 2 ** (zone_mask - cidr.prefixlen) if cidr.prefixlen <= zone_mask else 0
        if network.availability_zones > fits:
            findings.error(
                "network.availabilityZones",
                f"{network.availability_zones} availability zones of a /{zone_mask} block each "
                f"(availabilityZoneCidrMask) do not fit in {network.cidr_block}, which holds "
                f"{fits} (allowed: 2..{fits}; the block size cannot change after the first "
                "deploy)",
                set_command("network.availabilityZones", max(fits, 2)),
            )
        return
    largest = zone_mask - math.ceil(math.log2(network.availability_zones))
    if not low <= cidr.prefixlen <= largest:
        findings.error(
            path,
            f"{show(network.cidr_block)} has a /{cidr.prefixlen} mask, which cannot hold "
            f"{network.availability_zones} availability zones of a private "
            f"/{PRIVATE_SUBNET_PREFIX} and a public /{PUBLIC_SUBNET_PREFIX} subnet each "
            f"(allowed: /{low}../{largest}; VPCs can be /{low} at the largest)",
            set_command(
                path, str(cidr.supernet(new_prefix=low)) if cidr.prefixlen > low else "10.20.0.0/16"
            ),
        )


def check_other_stacks(
    network: NetworkConfig,
    region: str | None,
    others: Mapping[str, OtherStack],
    findings: Findings,
) -> None:
    """A warning for a new VPC whose range overlaps another stack's in the same region: valid,
    but two such VPCs can never be peered or joined to one transit gateway."""
    own = None if network.uses_existing_vpc else _cidr(network.cidr_block)
    if own is None:
        return
    taken = {
        name: _cidr(other.cidr_block)
        for name, other in sorted(others.items())
        if other.cidr_block is not None and other.region == region
    }
    clashes = [name for name, block in taken.items() if block is not None and block.overlaps(own)]
    if not clashes:
        return
    used = [block for block in taken.values() if block is not None]
    free = next(
        (
            candidate
            for candidate in ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=own.prefixlen)
            if not any(candidate.overlaps(block) for block in [*used, own])
        ),
        None,
    )
    findings.warn(
        "network.cidrBlock",
        f"{show(network.cidr_block)} overlaps the VPC of stack "
        f"{', '.join(repr(name) for name in clashes)} in {region}: the two VPCs could never be "
        "peered or share a transit gateway (allowed: any private range; give each stack its "
        "own)",
        set_command("network.cidrBlock", str(free) if free is not None else "<free range>"),
    )


def _check_existing_vpc(network: NetworkConfig, findings: Findings) -> None:
    ignored = {
        "cidr_block",
        "availability_zones",
        "availability_zone_cidr_mask",
        "nat_gateways",
        "flow_logs",
    }
    for key in sorted(network.model_fields_set & ignored):
        alias = to_camel(key)
        findings.error(
            f"network.{alias}",
            "has no effect with an existing VPC (allowed: vpcId, publicSubnetIds and "
            "privateSubnetIds alone)",
            rm_command(f"network.{alias}"),
        )
    if not VPC_ID.match(str(network.vpc_id)):
        findings.error(
            "network.vpcId",
            f"{show(network.vpc_id)} is not a VPC id (allowed: vpc- and 8 or 17 hex digits)",
            set_command("network.vpcId", "vpc-<id>"),
        )
    for key, ids in (
        ("publicSubnetIds", network.public_subnet_ids),
        ("privateSubnetIds", network.private_subnet_ids),
    ):
        if len(ids) < 2:
            findings.error(
                f"network.{key}",
                f"{show(list(ids))} has {len(ids)} subnet(s) (allowed: at least 2, in different "
                "availability zones, as an ALB requires)",
                set_command(f"network.{key}[{len(ids)}]", "subnet-<id>"),
            )
        for index, subnet in enumerate(ids):
            if not SUBNET_ID.match(subnet):
                findings.error(
                    f"network.{key}[{index}]",
                    f"{show(subnet)} is not a subnet id (allowed: subnet- and 8 or 17 hex digits)",
                    set_command(f"network.{key}[{index}]", "subnet-<id>"),
                )
