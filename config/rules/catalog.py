"""The catalog and the stack as a whole: each service's spec against the others (routes,
calls, permissions, security group rules, the apps it builds) and the load balancer's
capacity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import naming
from config.calls import call_cycle, callers_of
from config.issues import Findings, show, spec_fix
from config.limits import (
    ALB_RULES_MAX,
    ALB_TARGET_GROUPS_MAX,
    HOST_PATTERN,
    IMAGE_REFERENCE,
    LISTENER_PRIORITY_RANGE,
    PATH_PATTERN,
    PATTERN_LENGTH_MAX,
    RULE_CONDITION_VALUES_MAX,
    SECURITY_GROUP_RULES_DEFAULT_QUOTA,
    is_dns_name,
)
from config.routes import Rule, shadowed_rules
from config.rules.common import QUOTA_NOTE
from services import ServiceSpec

# Build contexts in service specs are relative to the project's root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def is_app(directory: Path) -> bool:
    """An app the one Dockerfile builds: beside apps/Dockerfile and apps/service-kit/, with its
    requirements.txt and exactly one package with a __main__.py."""
    return (
        (directory.parent / "Dockerfile").is_file()
        and (directory.parent / "service-kit").is_dir()
        and (directory / "requirements.txt").is_file()
        and len(list(directory.glob("*/__main__.py"))) == 1
    )


def check_catalog(stack: str, catalog: Mapping[str, ServiceSpec], findings: Findings) -> None:
    """Rules over the specs themselves: calls, routes and the names derived from them."""
    seen_priorities: dict[int, str] = {}
    for spec in catalog.values():
        path = f"services.{spec.name}"
        if not IMAGE_REFERENCE.match(spec.image):
            findings.error(
                path,
                f"the spec's image {show(spec.image)} is not an image reference ECS accepts "
                "(allowed: up to 255 letters, digits and - _ : . / #, optionally "
                "@sha256:<64 hex digits>; no placeholders)",
                spec_fix(spec.name),
            )
        for callee in spec.calls:
            if callee == spec.name or callee not in catalog:
                reason = (
                    "calls itself" if callee == spec.name else f"calls unknown service '{callee}'"
                )
                others = ", ".join(n for n in catalog if n != spec.name) or "no other service"
                findings.error(path, f"{reason} (allowed: {others})", spec_fix(spec.name))
        for route in spec.routes:
            low, high = LISTENER_PRIORITY_RANGE
            if not low <= route.priority <= high:
                findings.error(
                    path,
                    f"route priority {route.priority} is out of range (allowed: {low}..{high})",
                    spec_fix(spec.name),
                )
            other = seen_priorities.setdefault(route.priority, spec.name)
            if other != spec.name:
                findings.error(
                    path,
                    f"route priority {route.priority} is also used by '{other}' (allowed: "
                    "priorities unique per listener)",
                    spec_fix(spec.name),
                )
            _check_route_patterns(
                spec, route.priority, route.path_patterns, route.host_patterns, findings
            )
        component = naming.service_component(naming.platform(stack), spec.name)
        too_long = [
            name
            for name in (naming.target_group(component), naming.alternate_target_group(component))
            if not naming.fits_lb_name_limit(name)
        ]
        if spec.routes and too_long:
            findings.error(
                path,
                f"the target group name '{too_long[-1]}' is longer than AWS allows once Pulumi "
                f"adds its {naming.AUTONAME_SUFFIX_LENGTH}-character suffix (allowed: "
                f"{naming.AWS_LB_NAME_MAX} characters)",
                f"shorten the name of '{spec.name}' in services/, or the stack's name",
            )
        connect_name = naming.service_connect_discovery_name(spec.discovery_name)
        if (
            "." in spec.discovery_name
            or not is_dns_name(spec.discovery_name)
            or not is_dns_name(connect_name)
        ):
            room = 63 - len(naming.SERVICE_CONNECT_NAME_SUFFIX)
            findings.error(
                path,
                f"Cloud Map name {show(spec.discovery_name)} is not a DNS label of up to {room} "
                f"characters, which leaves room for its Service Connect name {show(connect_name)} "
                "(allowed: a-z, 0-9 and '-', not starting or ending with '-')",
                spec_fix(spec.name),
            )
        _check_security_group_rules(spec, catalog, findings)
        _check_permissions(spec, findings)
        if spec.build is not None and not is_app(PROJECT_ROOT / spec.build):
            findings.error(
                path,
                f"builds its image from {show(spec.build)}, which is no app (allowed: a "
                "directory beside the Dockerfile and service-kit/ under apps/, from the "
                "project's root, with requirements.txt and one package with a __main__.py)",
                spec_fix(spec.name),
            )
    _check_load_balancer_capacity(catalog, findings)
    _check_shadowed_routes(catalog, findings)
    cycle = call_cycle(catalog)
    if cycle:
        findings.error(
            f"services.{cycle[0]}",
            f"calls form a cycle {' -> '.join(cycle)} (allowed: calls without cycles, so that "
            "each callee's security group can admit its callers)",
            "edit the specs in services/",
        )


def _check_shadowed_routes(catalog: Mapping[str, ServiceSpec], findings: Findings) -> None:
    rules = [
        Rule(
            service=spec.name,
            priority=route.priority,
            path_patterns=route.path_patterns,
            host_patterns=route.host_patterns,
        )
        for spec in catalog.values()
        for route in spec.routes
    ]
    for shadowed, winner in shadowed_rules(rules):
        findings.error(
            f"services.{shadowed.service}",
            f"route priority {shadowed.priority} ({_route_text(shadowed)}) never gets a request: "
            f"'{winner.service}' route priority {winner.priority} ({_route_text(winner)}) "
            "matches every request it matches, and the ALB evaluates rules lowest priority "
            "first (allowed: a route that a lower-numbered route does not cover; give the more "
            "specific route the lower number)",
            spec_fix(winner.service if winner.service != shadowed.service else shadowed.service),
        )


def _route_text(rule: Rule) -> str:
    parts = []
    if rule.path_patterns:
        parts.append("paths " + ", ".join(rule.path_patterns))
    if rule.host_patterns:
        parts.append("hosts " + ", ".join(rule.host_patterns))
    return "; ".join(parts) or "no patterns"


def _check_route_patterns(
    spec: ServiceSpec,
    priority: int,
    paths: Sequence[str],
    hosts: Sequence[str],
    findings: Findings,
) -> None:
    where = f"services.{spec.name}"
    if not paths and not hosts:
        findings.error(
            where,
            f"route priority {priority} has no path or host pattern (allowed: at least one)",
            spec_fix(spec.name),
        )
    if len(paths) + len(hosts) > RULE_CONDITION_VALUES_MAX:
        findings.error(
            where,
            f"route priority {priority} has {len(paths) + len(hosts)} patterns (allowed: at "
            f"most {RULE_CONDITION_VALUES_MAX} condition values per ALB listener rule)",
            spec_fix(spec.name),
        )
    for pattern in paths:
        if not PATH_PATTERN.match(pattern):
            findings.error(
                where,
                f"path pattern {show(pattern)} is not one an ALB accepts (allowed: up to "
                f"{PATTERN_LENGTH_MAX} characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & * ?)",
                spec_fix(spec.name),
            )
    for pattern in hosts:
        last_label = pattern.rsplit(".", 1)[-1]
        if not HOST_PATTERN.match(pattern) or "." not in pattern or not last_label.isalpha():
            findings.error(
                where,
                f"host pattern {show(pattern)} is not one an ALB accepts (allowed: up to "
                f"{PATTERN_LENGTH_MAX} characters of A-Z a-z 0-9 - . * ?, with a '.' and only "
                "letters after the last one)",
                spec_fix(spec.name),
            )


def _check_permissions(spec: ServiceSpec, findings: Findings) -> None:
    for permission in spec.permissions:
        wide = [a for a in permission.actions if a == "*" or a.endswith(":*")]
        if wide or not permission.actions or not permission.resources:
            findings.error(
                f"services.{spec.name}",
                f"task permission {show(list(permission.actions))} on "
                f"{show(list(permission.resources))} is too broad or empty (allowed: named "
                "actions such as s3:GetObject, no `*` or `service:*`, on at least one resource)",
                spec_fix(spec.name),
            )


def _check_security_group_rules(
    spec: ServiceSpec, catalog: Mapping[str, ServiceSpec], findings: Findings
) -> None:
    # Inbound: one rule per caller, and one for the ALB if routed. Outbound: HTTPS, and one
    # rule per service it calls.
    inbound = len(callers_of(spec.name, catalog)) + (1 if spec.routes else 0)
    outbound = 1 + len([c for c in spec.calls if c in catalog])
    for direction, count in (("inbound", inbound), ("outbound", outbound)):
        if count > SECURITY_GROUP_RULES_DEFAULT_QUOTA:
            findings.error(
                f"services.{spec.name}",
                f"needs {count} {direction} rules on its security group ({QUOTA_NOTE}; allowed: "
                f"at most {SECURITY_GROUP_RULES_DEFAULT_QUOTA})",
                "split the service's callers or callees, or raise the quota and the limit here",
            )


def _check_load_balancer_capacity(catalog: Mapping[str, ServiceSpec], findings: Findings) -> None:
    routed = [spec for spec in catalog.values() if spec.routes]
    rules = sum(len(spec.routes) for spec in routed)
    if rules > ALB_RULES_MAX:
        findings.error(
            "services",
            f"declare {rules} listener rules (allowed: {ALB_RULES_MAX} rules per ALB, not "
            "counting default rules)",
            "merge or drop routes in services/",
        )
    if len(routed) > ALB_TARGET_GROUPS_MAX:
        findings.error(
            "services",
            f"put {len(routed)} services behind the ALB (allowed: {ALB_TARGET_GROUPS_MAX} target "
            "groups per ALB)",
            "drop routes in services/",
        )
    if len(routed) > SECURITY_GROUP_RULES_DEFAULT_QUOTA:
        findings.error(
            "services",
            f"put {len(routed)} services behind the ALB, one outbound rule each on its security "
            f"group ({QUOTA_NOTE}; allowed: at most {SECURITY_GROUP_RULES_DEFAULT_QUOTA})",
            "drop routes in services/",
        )
