"""The network: the VPC with its subnets and flow logs (network.py), and the Cloud Map namespace
services find each other in (namespace.py).
"""

from components.network.namespace import (
    ServiceNamespace,
    ServiceNamespaceArgs,
)
from components.network.network import (
    ExistingVpcArgs,
    FlowLogsArgs,
    Network,
    NetworkArgs,
    ZoneSubnets,
    flow_logs_policy,
    flow_logs_trust_policy,
    subnet_layout,
)

__all__ = [
    "ExistingVpcArgs",
    "FlowLogsArgs",
    "Network",
    "NetworkArgs",
    "ServiceNamespace",
    "ServiceNamespaceArgs",
    "ZoneSubnets",
    "flow_logs_policy",
    "flow_logs_trust_policy",
    "subnet_layout",
]
