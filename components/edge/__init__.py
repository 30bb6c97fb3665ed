"""The edge: the load balancer with its listeners, WAF and access-log bucket (load_balancer.py),
and how each service is reached and where it logs (endpoint.py).
"""

from components.edge.endpoint import (
    HealthCheckArgs,
    ListenerRoutesArgs,
    LogGroupArgs,
    RouteArgs,
    ServiceDiscoveryArgs,
    ServiceEndpoint,
    ServiceEndpointArgs,
    route_conditions,
)
from components.edge.load_balancer import (
    ELB_LOG_DELIVERY_PRINCIPAL,
    NOT_FOUND_ACTION,
    REDIRECT_TO_HTTPS_ACTION,
    TLS13_SSL_POLICY,
    WAF_MANAGED_RULE_GROUPS,
    LoadBalancer,
    LoadBalancerArgs,
)

__all__ = [
    "ELB_LOG_DELIVERY_PRINCIPAL",
    "NOT_FOUND_ACTION",
    "REDIRECT_TO_HTTPS_ACTION",
    "TLS13_SSL_POLICY",
    "WAF_MANAGED_RULE_GROUPS",
    "HealthCheckArgs",
    "ListenerRoutesArgs",
    "LoadBalancer",
    "LoadBalancerArgs",
    "LogGroupArgs",
    "RouteArgs",
    "ServiceDiscoveryArgs",
    "ServiceEndpoint",
    "ServiceEndpointArgs",
    "route_conditions",
]
