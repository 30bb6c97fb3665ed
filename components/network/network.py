"""Network: a new VPC (awsx) with public and private subnets per AZ, or an existing VPC."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx


@dataclass(frozen=True, kw_only=True)
class ZoneSubnets:
    """The two subnets of one availability zone."""

    public: str
    private: str


def subnet_layout(
    cidr_block: str,
    availability_zones: int,
    *,
    zone_mask: int,
    public_mask: int,
    private_mask: int,
) -> tuple[ZoneSubnets, ...]:
    """Each zone's subnets, from its fixed block of the VPC: zone i owns the i-th /zone_mask
    block, with the public subnet at the block's start and the private one at the next
    aligned block of its size (where awsx's "Auto" strategy puts them too).

    Zone i's subnets depend on i alone, never on how many zones there are, so adding a zone
    only adds subnets.
    """
    vpc = ipaddress.IPv4Network(cidr_block)
    blocks = list(vpc.subnets(new_prefix=zone_mask))
    if availability_zones > len(blocks):
        raise ValueError(
            f"{cidr_block} holds {len(blocks)} /{zone_mask} blocks, not {availability_zones}"
        )
    layout = []
    for block in blocks[:availability_zones]:
        public = next(block.subnets(new_prefix=public_mask))
        private = next(
            candidate
            for candidate in block.subnets(new_prefix=private_mask)
            if not candidate.overlaps(public)
        )
        layout.append(ZoneSubnets(public=str(public), private=str(private)))
    return tuple(layout)


@dataclass(frozen=True, kw_only=True)
class ExistingVpcArgs:
    vpc_id: str
    public_subnet_ids: Sequence[str]
    private_subnet_ids: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class FlowLogsArgs:
    account_id: pulumi.Input[str]
    region: str
    partition: pulumi.Input[str] = "aws"
    retention_days: int = 365
    kms_key_arn: pulumi.Input[str] | None = None
    retain_on_delete: bool = False
    """Leave the flow-log group in the account when the stack is destroyed."""


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    cidr_block: str = "10.20.0.0/16"
    availability_zones: int = 2
    availability_zone_cidr_mask: int = 19
    """Each zone's block of the VPC; fixed, so that adding a zone never moves a subnet."""
    nat_gateway_per_az: bool = False
    """One NAT gateway per AZ (AZ-independent egress) instead of a single shared one."""
    public_subnet_mask: int = 24
    """Public subnets hold only the ALB and NAT gateways."""
    private_subnet_mask: int = 20
    """Private subnets hold the tasks: one IP each (awsvpc)."""
    existing: ExistingVpcArgs | None = None
    """Use this VPC instead of creating one; the other fields are then ignored."""
    flow_logs: FlowLogsArgs | None = None
    """Record the new VPC's traffic to CloudWatch Logs (Security Hub EC2.6)."""


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        if args.existing is not None:
            self.vpc_id = pulumi.Output.from_input(args.existing.vpc_id)
            self.public_subnet_ids = pulumi.Output.from_input(list(args.existing.public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(
                list(args.existing.private_subnet_ids)
            )
        else:
            strategy = (
                awsx.ec2.NatGatewayStrategy.ONE_PER_AZ
                if args.nat_gateway_per_az
                else awsx.ec2.NatGatewayStrategy.SINGLE
            )
            layout = subnet_layout(
                args.cidr_block,
                args.availability_zones,
                zone_mask=args.availability_zone_cidr_mask,
                public_mask=args.public_subnet_mask,
                private_mask=args.private_subnet_mask,
            )
            vpc = awsx.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=args.cidr_block,
                number_of_availability_zones=args.availability_zones,
                nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=strategy),
                # Explicit blocks for every subnet: left to itself, awsx divides the VPC by the
                # number of zones, and adding a zone would move existing subnets (a
                # replacement AWS refuses while the old subnets hold the addresses). With
                # explicit blocks awsx allocates nothing (its ExplicitAllocator), and previews
                # show the layout.
                subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
                subnet_specs=[
                    awsx.ec2.SubnetSpecArgs(
                        type=awsx.ec2.SubnetType.PUBLIC,
                        cidr_mask=args.public_subnet_mask,
                        cidr_blocks=[zone.public for zone in layout],
                    ),
                    awsx.ec2.SubnetSpecArgs(
                        type=awsx.ec2.SubnetType.PRIVATE,
                        cidr_mask=args.private_subnet_mask,
                        cidr_blocks=[zone.private for zone in layout],
                    ),
                ],
                # Cloud Map private DNS namespaces need both.
                enable_dns_hostnames=True,
                enable_dns_support=True,
                opts=child,
            )
            # The default group allows all traffic between its members; nothing should use it
            # (Security Hub EC2.2). Adopting it with no rules removes them.
            aws.ec2.DefaultSecurityGroup(
                f"{name}-default-sg",
                vpc_id=vpc.vpc_id,
                tags={"Name": f"{name}-default (unused, no rules)"},
                opts=child,
            )
            if args.flow_logs is not None:
                self._flow_logs(name, vpc.vpc_id, args.flow_logs)
            self.vpc_id = vpc.vpc_id
            self.public_subnet_ids = vpc.public_subnet_ids
            self.private_subnet_ids = vpc.private_subnet_ids

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, vpc_id: pulumi.Input[str], args: FlowLogsArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.retention_days,
            kms_key_id=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC Flow Logs delivery to CloudWatch Logs",
            assume_role_policy=pulumi.Output.all(args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    flow_logs_trust_policy(
                        account_id=values[0], region=args.region, partition=values[1]
                    )
                )
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, args.account_id, args.partition).apply(
                lambda values: json.dumps(
                    flow_logs_policy(
                        log_group_arn=values[0],
                        account_id=values[1],
                        region=args.region,
                        partition=values[2],
                    )
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            # Delivery starts with the role's permissions in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def flow_logs_trust_policy(
    *, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """VPC Flow Logs may assume the role, for flow logs of this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"
                    },
                },
            }
        ],
    }


def flow_logs_policy(
    *, log_group_arn: str, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """What VPC Flow Logs needs to deliver to one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            },
            {
                # DescribeLogGroups lists the account's groups; it takes no single group.
                "Sid": "FindTheLogGroup",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": f"arn:{partition}:logs:{region}:{account_id}:log-group:*",
            },
        ],
    }
