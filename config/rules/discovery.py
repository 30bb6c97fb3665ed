"""How services find each other: the Cloud Map namespace and Service Connect."""

from __future__ import annotations

from collections.abc import Mapping

from config.issues import Findings, rm_command, set_command, show
from config.limits import (
    DNS_NAME_RULE,
    is_dns_name,
)
from config.schema import (
    DiscoveryConfig,
)
from services import ServiceSpec


def check_namespace(namespace: str, stack: str, findings: Findings) -> None:
    if not is_dns_name(namespace):
        findings.error(
            "discovery.namespace",
            f"{show(namespace)} is not a valid DNS name (allowed: {DNS_NAME_RULE})",
            set_command("discovery.namespace", f"{stack}.internal"),
        )


# A Service Connect client alias's dnsName: up to 127 characters
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-serviceconnectclientalias.html).
SERVICE_CONNECT_ALIAS_MAX = 127


def check_discovery(
    discovery: DiscoveryConfig,
    namespace: str,
    catalog: Mapping[str, ServiceSpec],
    findings: Findings,
) -> None:
    """Service Connect's own keys, and whether every caller URL fits a client alias."""
    if discovery.leaving_service_connect:
        if discovery.mode == "serviceConnect":
            findings.error(
                "discovery.leavingServiceConnect",
                "true with discovery.mode serviceConnect: it orders the `pulumi up` that leaves "
                "Service Connect (allowed: true with discovery.mode cloudMapDns)",
                rm_command("discovery.leavingServiceConnect"),
            )
        else:
            findings.warn(
                "discovery.leavingServiceConnect",
                "true: every service releases after its callers, one after another; once the "
                "stack has left Service Connect, remove it so that releases run side by side "
                "again (allowed: true for the switch, then unset)",
                rm_command("discovery.leavingServiceConnect"),
            )
    if discovery.mode != "serviceConnect":
        if "per_request_timeout_seconds" in discovery.model_fields_set:
            findings.error(
                "discovery.perRequestTimeoutSeconds",
                f"{discovery.per_request_timeout_seconds} applies to ECS Service Connect, and "
                f"discovery.mode is {show(discovery.mode)} (allowed: discovery.mode "
                "serviceConnect, or remove it)",
                rm_command("discovery.perRequestTimeoutSeconds"),
            )
        return
    if not is_dns_name(namespace) or not catalog:
        return
    # Callers keep their URLs: each service's alias is `<discovery name>.<namespace>`.
    room = SERVICE_CONNECT_ALIAS_MAX - len(namespace) - 1
    too_long = sorted(spec.name for spec in catalog.values() if len(spec.discovery_name) > room)
    if too_long:
        left = "no room" if room < 1 else f"{room} characters"
        need = "" if room < 1 else f"; {', '.join(too_long)} need more"
        findings.error(
            "discovery.namespace",
            f"{show(namespace)} leaves {left} for the discovery name in a Service Connect client "
            f"alias, <discovery name>.<namespace>, which keeps the callers' URLs{need} (allowed: "
            f"aliases of up to {SERVICE_CONNECT_ALIAS_MAX} characters; the namespace cannot "
            "change after the first deploy, so keep Cloud Map DNS)",
            set_command("discovery.mode", "cloudMapDns"),
        )
