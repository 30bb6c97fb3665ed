"""EC2 networking: the default security group, flow logs and security groups' rules
(`aws:ec2/...`, `aws:vpc/...`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
)

from policies.control import (
    AWSX_VPC,
    DEFAULT_SECURITY_GROUP,
    EGRESS_RULE,
    FLOW_LOG,
    INGRESS_RULE,
    SECURITY_GROUP,
    VPC,
    Declared,
    _referenced_by,
)

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


@declare.resource(
    name="ec2-default-security-group-closed",
    ids="EC2.2",
    description="The VPC's default security group has no rules.",
    how="The new VPC's default security group is adopted with no rules.",
    scope="all",
    on_unknown="deny",
    types=(DEFAULT_SECURITY_GROUP,),
)
def _default_group_closed(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("ingress") or props.get("egress"):
        yield "the VPC's default security group has rules: leave ingress and egress empty"


@declare.stack(
    name="ec2-vpc-flow-logs",
    ids="EC2.6",
    description="VPCs created by the stack have flow logs.",
    how=(
        "`network.flowLogs`: all traffic to a log group, delivered by a role only this "
        "account's flow logs assume."
    ),
    scope="production",
    on_unknown="deny",
)
def _flow_logs(resources: Sequence[PolicyResource]) -> Iterable[tuple[str, str | None]]:
    """Each VPC has a flow log whose `vpcId` comes from it (or from the component that owns
    it: an awsx VPC hands out its `aws:ec2/vpc:Vpc` child's id)."""
    vpcs = [r for r in resources if r.resource_type == VPC]
    owners = {vpc.parent.urn for vpc in vpcs if vpc.parent is not None}
    # Where the engine shows no child VPC (e.g. an awsx component rendered alone), the
    # component stands for its VPC.
    vpcs += [r for r in resources if r.resource_type == AWSX_VPC and r.urn not in owners]
    sources = _referenced_by(resources, FLOW_LOG, "vpcId")
    for vpc in vpcs:
        parent = vpc.parent.urn if vpc.parent is not None else None
        if vpc.urn not in sources and parent not in sources:
            yield ("the VPC has no flow log to CloudWatch Logs or S3", vpc.urn)


@declare.resource(
    name="security-groups-described",
    ids="project",
    description="Every security group and security group rule has a description.",
    how="Every group and rule is created with a description.",
    scope="all",
    on_unknown="deny",
    types=(SECURITY_GROUP, INGRESS_RULE, EGRESS_RULE),
)
def _described(props: Mapping[str, Any]) -> Iterable[str]:
    if not str(props.get("description") or "").strip():
        yield "no description"


@declare.resource(
    name="security-groups-public-ingress-only-web",
    ids="project",
    description=(
        "Only the load balancer is open to address ranges, on 80 and 443; services admit "
        "security groups."
    ),
    how=(
        "Only the ALB group admits `loadBalancer.ingressCidrs`, on 80/443; services admit the"
        " ALB's and their callers' groups."
    ),
    scope="all",
    on_unknown="deny",
    types=(INGRESS_RULE,),
)
def _public_ingress_only_web(props: Mapping[str, Any]) -> Iterable[str]:
    sources = [props.get(k) for k in ("cidrIpv4", "cidrIpv6", "prefixListId")]
    if not any(sources):
        return
    protocol, low, high = props.get("ipProtocol"), props.get("fromPort"), props.get("toPort")
    if protocol != "tcp" or low != high or low not in (80, 443):
        yield (
            f"address-range ingress on {protocol} {low}-{high}: only the load balancer may be "
            "open to address ranges, on 80 and 443; services admit security groups"
        )


CONTROLS = declare.controls()
