"""Elastic Load Balancing: the load balancer, its listeners and its WAF association
(`aws:lb/...`, `aws:wafv2/webAclAssociation`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
)

from policies.control import (
    LISTENER,
    LOAD_BALANCER,
    TLS13_POLICY,
    WAF_ASSOCIATION,
    Declared,
    _referenced_by,
)

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


def _is_application(props: Mapping[str, Any]) -> bool:
    return props.get("loadBalancerType", "application") == "application"


@declare.resource(
    name="elb-http-redirects-to-https",
    ids="ELB.1",
    description="HTTP listeners only redirect to HTTPS.",
    how="With a certificate, port 80 only redirects to 443 (HTTP_301).",
    scope="production",
    on_unknown="deny",
    types=(LISTENER,),
)
def _redirects_http(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") != "HTTP":
        return
    actions = list(props.get("defaultActions") or [])
    only = actions[0] if len(actions) == 1 else {}
    if only.get("type") == "redirect" and (only.get("redirect") or {}).get("protocol") == "HTTPS":
        return
    yield "an HTTP listener serves traffic: its default action must redirect to HTTPS"


@declare.resource(
    name="elb-drop-invalid-headers",
    ids="ELB.4",
    description="Application load balancers drop invalid HTTP headers.",
    how="`dropInvalidHeaderFields: true` on the ALB.",
    scope="all",
    on_unknown="deny",
    types=(LOAD_BALANCER,),
)
def _drops_invalid_headers(props: Mapping[str, Any]) -> Iterable[str]:
    if _is_application(props) and props.get("dropInvalidHeaderFields") is not True:
        yield "dropInvalidHeaderFields is not true"


@declare.resource(
    name="elb-access-logs",
    ids="ELB.5",
    description="Load balancers write access logs.",
    how=(
        "`loadBalancer.accessLogs`: a private, encrypted bucket with expiry; ELB log delivery"
        " may write."
    ),
    scope="production",
    on_unknown="deny",
    types=(LOAD_BALANCER,),
)
def _access_logs(props: Mapping[str, Any]) -> Iterable[str]:
    if (props.get("accessLogs") or {}).get("enabled") is not True:
        yield "access logs are off: set accessLogs with a bucket and enabled true"


@declare.resource(
    name="elb-deletion-protection",
    ids="ELB.6",
    description="Load balancers have deletion protection on.",
    how="`loadBalancer.deletionProtection`.",
    scope="production",
    on_unknown="deny",
    types=(LOAD_BALANCER,),
)
def _deletion_protection(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("enableDeletionProtection") is not True:
        yield "deletion protection is off"


@declare.resource(
    name="elb-desync-mitigation",
    ids="ELB.12",
    description="Application load balancers use defensive or strictest desync mitigation.",
    how="`desyncMitigationMode: defensive` on the ALB.",
    scope="all",
    on_unknown="deny",
    types=(LOAD_BALANCER,),
)
def _desync_mitigation(props: Mapping[str, Any]) -> Iterable[str]:
    if _is_application(props) and props.get("desyncMitigationMode") not in (
        "defensive",
        "strictest",
    ):
        yield "desyncMitigationMode is not set to defensive or strictest"


@declare.stack(
    name="elb-waf",
    ids="ELB.16",
    description="Application load balancers are associated with an AWS WAF web ACL.",
    how=(
        "`loadBalancer.waf`: a web ACL with AWS's common, known-bad-inputs and IP-reputation "
        "rule groups."
    ),
    scope="production",
    on_unknown="deny",
)
def _alb_has_waf(resources: Sequence[PolicyResource]) -> Iterable[tuple[str, str | None]]:
    protected = _referenced_by(resources, WAF_ASSOCIATION, "resourceArn")
    for alb in resources:
        unprotected = alb.resource_type == LOAD_BALANCER and alb.urn not in protected
        if unprotected and _is_application(alb.props):
            yield ("the ALB has no AWS WAF web ACL", alb.urn)


@declare.resource(
    name="elb-tls13-policy",
    ids="ELB.17",
    description="HTTPS listeners set a TLS 1.3 security policy explicitly.",
    how="HTTPS listeners set `ELBSecurityPolicy-TLS13-1-2-2021-06`.",
    scope="all",
    on_unknown="deny",
    types=(LISTENER,),
)
def _tls13(props: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") == "HTTPS" and not TLS13_POLICY.match(
        str(props.get("sslPolicy") or "")
    ):
        yield (
            f"HTTPS listener with ssl policy {props.get('sslPolicy')!r}: set a TLS 1.3 policy "
            "such as ELBSecurityPolicy-TLS13-1-2-2021-06"
        )


CONTROLS = declare.controls()
