"""The load balancer block and its certificate."""

from __future__ import annotations

import re

import naming
from config.issues import Findings, rm_command, set_command, show
from config.limits import (
    ACM_ARN,
    DNS_NAME_RULE,
    SECURITY_GROUP_RULES_DEFAULT_QUOTA,
    is_dns_name,
    is_placeholder_certificate,
)
from config.rules.common import CERTIFICATE_FIX, QUOTA_NOTE, _cidr
from config.schema import (
    LoadBalancerConfig,
)


def check_load_balancer(stack: str, lb: LoadBalancerConfig, findings: Findings) -> None:
    domain = lb.domain_name
    if domain is not None and (not is_dns_name(domain) or "." not in domain):
        findings.error(
            "loadBalancer.domainName",
            f"{show(domain)} is not a domain name (allowed: {DNS_NAME_RULE})",
            set_command("loadBalancer.domainName", "api.<your-domain>"),
        )
    for index, cidr in enumerate(lb.ingress_cidrs):
        path = f"loadBalancer.ingressCidrs[{index}]"
        if cidr in lb.ingress_cidrs[:index]:
            findings.error(
                path, f"{show(cidr)} is listed twice (allowed: each CIDR once)", rm_command(path)
            )
            continue
        if _cidr(cidr) is None:
            findings.error(
                path,
                f"{show(cidr)} is not an IPv4 CIDR block (allowed: a network address and mask, "
                "e.g. 0.0.0.0/0)",
                set_command(path, "0.0.0.0/0"),
            )
    rules = len(lb.ingress_cidrs) * (2 if lb.https else 1)
    if rules > SECURITY_GROUP_RULES_DEFAULT_QUOTA:
        findings.error(
            "loadBalancer.ingressCidrs",
            f"needs {rules} inbound rules on the ALB's security group ({len(lb.ingress_cidrs)} "
            f"CIDRs x {'2 ports' if lb.https else '1 port'}) ({QUOTA_NOTE}; allowed: at most "
            f"{SECURITY_GROUP_RULES_DEFAULT_QUOTA // (2 if lb.https else 1)} CIDRs)",
            rm_command(f"loadBalancer.ingressCidrs[{len(lb.ingress_cidrs) - 1}]"),
        )
    alb_name = naming.load_balancer(naming.load_balancer_component(naming.platform(stack)))
    if not naming.fits_lb_name_limit(alb_name) or not re.match(r"^[a-z0-9-]+$", stack):
        findings.error(
            "(stack name)",
            f"{show(stack)} makes the ALB name '{alb_name}' too long or invalid once Pulumi adds "
            f"its {naming.AUTONAME_SUFFIX_LENGTH}-character suffix (allowed: lowercase letters, "
            f"digits and hyphens; ALB names are at most {naming.AWS_LB_NAME_MAX} characters)",
            "pulumi stack rename <shorter-lowercase-name>",
        )


def check_certificate(
    arn: str | None,
    *,
    environment: str,
    region: str | None,
    deploying: bool,
    findings: Findings,
) -> None:
    path = "loadBalancer.certificateArn"
    if arn is None:
        if environment == "production":
            findings.error(
                path,
                "is required in production: the ALB serves HTTPS only (allowed: an ACM "
                "certificate ARN in the stack's region)",
                set_command(path, CERTIFICATE_FIX),
            )
        return
    match = ACM_ARN.match(arn)
    if match is None:
        findings.error(
            path,
            f"{show(arn)} is not an ACM certificate ARN "
            "(allowed: arn:aws:acm:<region>:<account>:certificate/<id>)",
            set_command(path, CERTIFICATE_FIX),
        )
    elif region and match["region"] != region:
        findings.error(
            path,
            f"{show(arn)} is in {match['region']}, but an ALB can only use a certificate from "
            f"its own region (allowed: a certificate in {region})",
            set_command(path, f"arn:aws:acm:{region}:<account>:certificate/<id>"),
        )
    elif deploying and is_placeholder_certificate(arn):
        # Previews may show a stack with the placeholder; a deploy must not start with it.
        findings.error(
            path,
            f"{show(arn)} is the placeholder from the stack file; creating the HTTPS listener "
            "would fail (allowed: the ARN of your ACM certificate)",
            set_command(path, f"arn:aws:acm:{match['region']}:<account>:certificate/<id>"),
        )
