"""Rules over parsed config blocks: AWS's limits, cross-field safety, and warnings.

Each rule adds to a Findings: an error for what AWS would reject or what would make a deploy
unsafe, a warning for what is valid but surprising. Every message says what is allowed and
why, and every finding carries the command that fixes it.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic.alias_generators import to_camel

import naming
from config.calls import call_cycle, callers_of
from config.issues import Findings, list_text, rm_command, set_command, show, spec_fix
from config.limits import (
    ACM_ARN,
    ALB_RULES_MAX,
    ALB_TARGET_GROUPS_MAX,
    DNS_NAME_RULE,
    ENV_NAME,
    FARGATE_MEMORY_BY_CPU,
    FARGATE_SPOT_WARNING_SECONDS,
    HOST_PATTERN,
    IMAGE_REFERENCE,
    KMS_KEY_ARN,
    LISTENER_PRIORITY_RANGE,
    LOG_RETENTION_DAYS,
    PATH_PATTERN,
    PATTERN_LENGTH_MAX,
    PRIVATE_RANGES,
    PRIVATE_SUBNET_PREFIX,
    PUBLIC_SUBNET_PREFIX,
    RESERVED_BY_AWS_SERVICES,
    RULE_CONDITION_VALUES_MAX,
    SECRET_ARN,
    SECURITY_GROUP_RULES_DEFAULT_QUOTA,
    SERVICE_CONNECT_PROXY_MEMORY,
    SPOT_ARCHITECTURES,
    SUBNET_ID,
    TASK_DEFINITION_MAX_BYTES,
    VPC_ID,
    VPC_PREFIX_RANGE,
    is_dns_name,
    is_placeholder_certificate,
)
from config.routes import Rule, shadowed_rules
from config.schema import (
    AlertsConfig,
    ClusterConfig,
    DeploymentConfig,
    DiscoveryConfig,
    LoadBalancerConfig,
    LogsConfig,
    NetworkConfig,
    ObservabilityConfig,
    ServiceConfig,
    TeardownConfig,
)
from config.stack_input import OtherStack
from services import ServiceSpec

CERTIFICATE_FIX = "arn:aws:acm:<region>:<account>:certificate/<id>"
# Build contexts in service specs are relative to the project's root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_FIX = "arn:aws:secretsmanager:<region>:<account>:secret:<name>"
QUOTA_NOTE = (
    f"AWS's default quota is {SECURITY_GROUP_RULES_DEFAULT_QUOTA} rules per direction per "
    "security group; it can be raised on request"
)


def is_app(directory: Path) -> bool:
    """An app the one Dockerfile builds: beside apps/Dockerfile and apps/service-kit/, with its
    requirements.txt and exactly one package with a __main__.py."""
    return (
        (directory.parent / "Dockerfile").is_file()
        and (directory.parent / "service-kit").is_dir()
        and (directory / "requirements.txt").is_file()
        and len(list(directory.glob("*/__main__.py"))) == 1
    )


def _cidr(text: str) -> ipaddress.IPv4Network | None:
    """An IPv4 block written as AWS wants it: address/mask, no host bits set."""
    if "/" not in text:
        return None
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        return None


def _nearest_at_least(value: int, allowed: Sequence[int]) -> int:
    return next((a for a in allowed if a >= value), allowed[-1])


# --- one service's config ----------------------------------------------------------------------


def check_service(
    key: str,
    svc: ServiceConfig,
    spec: ServiceSpec,
    findings: Findings,
    *,
    service_connect: bool | None = False,
) -> None:
    """`service_connect`: the environment's discovery mode is serviceConnect; None when the
    discovery block did not parse, which leaves out the rules that depend on it."""
    base = f"services.{key}"
    _check_image(base, svc, spec, findings)
    _check_size(base, svc, findings)
    _check_band(base, svc, spec, findings)
    _check_variables(base, svc, findings)
    _check_rollout(base, svc, spec, findings, service_connect=service_connect)
    _check_alarms(base, svc, spec, findings, service_connect=service_connect)
    if service_connect is False and "per_request_timeout_seconds" in svc.model_fields_set:
        findings.error(
            f"{base}.perRequestTimeoutSeconds",
            f"{svc.per_request_timeout_seconds} applies to ECS Service Connect, and the "
            f"environment's discovery.mode is {show('cloudMapDns')} (allowed: discovery.mode "
            "serviceConnect, or remove it)",
            rm_command(f"{base}.perRequestTimeoutSeconds"),
        )


# The release alarms fire after this many one-minute periods breach.
ALARM_WINDOW_MINUTES = 3
_CANARY_KEYS = ("canary_percent", "canary_bake_time_minutes")
_LINEAR_KEYS = ("step_percent", "step_bake_time_minutes")
_ROUTED_ALARM_KEYS = ("http5xx_percent", "unhealthy_hosts", "latency_p99_ms")
# What Service Connect measures of a service's requests: its 5xx responses and response time,
# not the health of its targets (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html).
_SERVICE_CONNECT_ALARM_KEYS = ("http5xx_percent", "latency_p99_ms")


def _check_rollout(
    base: str,
    svc: ServiceConfig,
    spec: ServiceSpec,
    findings: Findings,
    *,
    service_connect: bool | None,
) -> None:
    deployment = svc.deployment
    path = f"{base}.deployment"
    strategy = deployment.strategy
    for keys, owner in ((_CANARY_KEYS, "canary"), (_LINEAR_KEYS, "linear")):
        for key in sorted(deployment.model_fields_set & set(keys)):
            if strategy != owner:
                findings.error(
                    f"{path}.{to_camel(key)}",
                    f"applies to the {owner} strategy, and the strategy is {show(strategy)} "
                    f"(allowed: set it with strategy {owner}, or remove it)",
                    rm_command(f"{path}.{to_camel(key)}"),
                )
    for key in ("canary_percent", "step_percent"):
        value = getattr(deployment, key)
        if value is not None and abs(value * 10 - round(value * 10)) > 1e-9:
            findings.error(
                f"{path}.{to_camel(key)}",
                f"{show(value)} is not a multiple of 0.1, as ECS requires (allowed: e.g. "
                f"{round(value, 1)})",
                set_command(f"{path}.{to_camel(key)}", round(value, 1)),
            )
    if strategy == "rolling":
        if "bake_time_minutes" in deployment.model_fields_set:
            findings.error(
                f"{path}.bakeTimeMinutes",
                "applies to the blueGreen, linear and canary strategies, and the strategy is "
                '"rolling" (allowed: remove it, or choose a strategy that shifts traffic)',
                rm_command(f"{path}.bakeTimeMinutes"),
            )
        return
    if not spec.routes:
        # Under Service Connect ECS shifts the service's Service Connect traffic instead.
        if service_connect is False:
            findings.error(
                f"{path}.strategy",
                f"{show(strategy)} shifts traffic between two target groups at the load "
                f"balancer, and {spec.name} has no route (allowed: rolling; a traffic-shifting "
                "strategy needs the service behind the ALB, through a route in its spec, or on "
                "ECS Service Connect: discovery.mode serviceConnect)",
                set_command(f"{path}.strategy", "rolling"),
            )
    elif len(spec.routes) != 1:
        findings.error(
            f"{path}.strategy",
            f"{show(strategy)} shifts one production listener rule, and {spec.name} has "
            f"{len(spec.routes)} routes (allowed: rolling; or one route in its spec)",
            set_command(f"{path}.strategy", "rolling"),
        )
    if svc.autoscaling is not None and svc.autoscaling.requests_per_target is not None:
        findings.error(
            f"{base}.autoscaling.requestsPerTarget",
            f"{svc.autoscaling.requests_per_target} scales on one target group's requests, and "
            f"the {show(strategy)} strategy moves traffic to the other target group at every "
            "release, which would scale the service in (allowed: cpuTarget, memoryTarget)",
            rm_command(f"{base}.autoscaling.requestsPerTarget"),
        )
    for key in ("bake_time_minutes", "canary_bake_time_minutes"):
        value = getattr(deployment, key)
        if value is not None and value < ALARM_WINDOW_MINUTES:
            findings.error(
                f"{path}.{to_camel(key)}",
                f"{value} is shorter than the {ALARM_WINDOW_MINUTES} minutes a release alarm "
                f"needs to fire ({ALARM_WINDOW_MINUTES} one-minute periods), so a bad release "
                f"could finish before its alarms see it (allowed: {ALARM_WINDOW_MINUTES}..1440)",
                set_command(f"{path}.{to_camel(key)}", ALARM_WINDOW_MINUTES),
            )


def _check_alarms(
    base: str,
    svc: ServiceConfig,
    spec: ServiceSpec,
    findings: Findings,
    *,
    service_connect: bool | None,
) -> None:
    if spec.routes or service_connect is None:
        return
    measured = _SERVICE_CONNECT_ALARM_KEYS if service_connect else ()
    for key in sorted(svc.alarms.model_fields_set & set(_ROUTED_ALARM_KEYS) - set(measured)):
        alias = type(svc.alarms).model_fields[key].alias or to_camel(key)
        message = (
            f"watches the load balancer's targets, and {spec.name} has no route; Service "
            "Connect reports requests, 5xx responses and response times, not target health "
            "(allowed here: rollback, cpuPercent, memoryPercent, http5xxPercent, latencyP99Ms)"
            if service_connect
            else f"watches the load balancer's target group, and {spec.name} has no route "
            "(allowed here: rollback, cpuPercent, memoryPercent)"
        )
        findings.error(f"{base}.alarms.{alias}", message, rm_command(f"{base}.alarms.{alias}"))


def _check_image(base: str, svc: ServiceConfig, spec: ServiceSpec, findings: Findings) -> None:
    if svc.image is not None and not IMAGE_REFERENCE.match(svc.image):
        findings.error(
            f"{base}.image",
            f"{show(svc.image)} is not an image reference ECS accepts (allowed: up to 255 "
            "letters, digits and - _ : . / #, optionally @sha256:<64 hex digits>)",
            set_command(f"{base}.image", "<registry>/<repository>:<tag>"),
        )
    if svc.image not in (None, spec.image) and svc.user is None:
        findings.error(
            f"{base}.user",
            f"is required with an image other than the spec's ({svc.image}): the spec's user "
            "belongs to its own image (allowed: the numeric uid the image runs as, non-root)",
            set_command(f"{base}.user", "10001"),
        )
    if svc.user in ("0", "root"):
        findings.error(
            f"{base}.user",
            f"{show(svc.user)} runs the container as root (allowed: a non-root uid)",
            set_command(f"{base}.user", "10001"),
        )


def _check_size(base: str, svc: ServiceConfig, findings: Findings) -> None:
    cpus = tuple(FARGATE_MEMORY_BY_CPU)
    if svc.cpu not in FARGATE_MEMORY_BY_CPU:
        findings.error(
            f"{base}.cpu",
            f"{svc.cpu} is not a Fargate cpu size (allowed: {', '.join(map(str, cpus))})",
            set_command(f"{base}.cpu", _nearest_at_least(svc.cpu, cpus)),
        )
    elif svc.memory not in FARGATE_MEMORY_BY_CPU[svc.cpu]:
        allowed = FARGATE_MEMORY_BY_CPU[svc.cpu]
        findings.error(
            f"{base}.memory",
            f"{svc.memory} is not valid with cpu {svc.cpu} (allowed: {list_text(allowed)})",
            set_command(f"{base}.memory", _nearest_at_least(svc.memory, allowed)),
        )


def _check_band(base: str, svc: ServiceConfig, spec: ServiceSpec, findings: Findings) -> None:
    band = svc.autoscaling
    if band is None:
        return
    if band.requests_per_target is not None and not spec.routes:
        findings.error(
            f"{base}.autoscaling.requestsPerTarget",
            f"{band.requests_per_target} needs a service behind the load balancer, and "
            f"{spec.name} has no routes (allowed: cpuTarget, memoryTarget)",
            rm_command(f"{base}.autoscaling.requestsPerTarget"),
        )
    if band.min_count > band.max_count:
        findings.error(
            f"{base}.autoscaling.minCount",
            f"{band.min_count} is greater than maxCount {band.max_count} "
            "(allowed: minCount <= desiredCount <= maxCount)",
            set_command(f"{base}.autoscaling.minCount", band.max_count),
        )
    elif not band.min_count <= svc.desired_count <= band.max_count:
        clamped = min(max(svc.desired_count, band.min_count), band.max_count)
        origin = "" if "desired_count" in svc.model_fields_set else " (the default)"
        findings.warn(
            f"{base}.desiredCount",
            f"{svc.desired_count}{origin} is outside the autoscaling band "
            f"{band.min_count}..{band.max_count}; the service starts with {clamped} tasks, "
            "as Application Auto Scaling would set it (allowed: minCount <= desiredCount <= "
            "maxCount)",
            set_command(f"{base}.desiredCount", clamped),
        )


def _check_variables(base: str, svc: ServiceConfig, findings: Findings) -> None:
    for name in svc.environment:
        if not ENV_NAME.match(name):
            _bad_variable_name(f"{base}.environment.{name}", findings)
    for name, arn in svc.secrets.items():
        path = f"{base}.secrets.{name}"
        if not ENV_NAME.match(name):
            _bad_variable_name(path, findings)
        if not SECRET_ARN.match(arn):
            findings.error(
                path,
                f"{show(arn)} is not a Secrets Manager secret or SSM parameter ARN (allowed: "
                "arn:aws:secretsmanager:<region>:<account>:secret:<name> or "
                "arn:aws:ssm:<region>:<account>:parameter/<name>)",
                set_command(path, SECRET_FIX),
            )
        if name in svc.environment:
            findings.error(
                path,
                f"'{name}' is also set in environment (allowed: one of the two)",
                rm_command(f"{base}.environment.{name}"),
            )
    for index, key_arn in enumerate(svc.secrets_kms_key_arns):
        if not KMS_KEY_ARN.match(key_arn):
            path = f"{base}.secretsKmsKeyArns[{index}]"
            findings.error(
                path,
                f"{show(key_arn)} is not a KMS key ARN (allowed: "
                "arn:aws:kms:<region>:<account>:key/<key-id>)",
                set_command(path, "arn:aws:kms:<region>:<account>:key/<key-id>"),
            )
    variables = [{"name": k, "value": v} for k, v in svc.environment.items()]
    variables += [{"name": k, "valueFrom": v} for k, v in svc.secrets.items()]
    size = len(json.dumps(variables).encode())
    # The variables must leave room for the rest of the task definition.
    if size > TASK_DEFINITION_MAX_BYTES // 2:
        findings.error(
            f"{base}.environment",
            f"holds {size} bytes of variables; with the rest of the task definition that risks "
            f"ECS's {TASK_DEFINITION_MAX_BYTES // 1024} KiB limit on a task definition "
            f"(allowed: up to {TASK_DEFINITION_MAX_BYTES // 2} bytes; put large values in SSM "
            "parameters or Secrets Manager)",
            rm_command(f"{base}.environment.<largest variable>"),
        )


def _bad_variable_name(path: str, findings: Findings) -> None:
    findings.error(
        path,
        "is not a valid environment variable name (allowed: letters, digits and _, not "
        "starting with a digit)",
        rm_command(path),
    )


# --- blocks ------------------------------------------------------------------------------------


def check_cluster(cluster: ClusterConfig, findings: Findings) -> None:
    strategy = cluster.capacity_providers
    path = "cluster.capacityProviders"
    if not strategy:
        findings.error(
            path,
            "is empty (allowed: at least one of FARGATE, FARGATE_SPOT)",
            set_command(f"{path}[0].provider", "FARGATE"),
        )
        return
    names = [p.provider for p in strategy]
    for index, name in enumerate(names):
        if name in names[:index]:
            findings.error(
                f"{path}[{index}].provider",
                f"{show(name)} is listed twice (allowed: each provider once)",
                rm_command(f"{path}[{index}]"),
            )
    with_base = [i for i, p in enumerate(strategy) if p.base > 0]
    for index in with_base[1:]:
        findings.error(
            f"{path}[{index}].base",
            f"{strategy[index].base} is a second base (allowed: only one capacity provider in a "
            "strategy may set base)",
            set_command(f"{path}[{index}].base", 0),
        )
    if all(p.weight == 0 for p in strategy):
        findings.error(
            f"{path}[0].weight",
            "0 leaves every weight at 0 (allowed: at least one weight > 0)",
            set_command(f"{path}[0].weight", 1),
        )


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


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_alerts(alerts: AlertsConfig, findings: Findings) -> None:
    for index, email in enumerate(alerts.emails):
        path = f"alerts.emails[{index}]"
        if not EMAIL.match(email):
            findings.error(
                path,
                f"{show(email)} is not an email address (allowed: name@domain, which AWS sends "
                "a confirmation to)",
                set_command(path, "ops@<your-domain>"),
            )
        elif email in alerts.emails[:index]:
            findings.error(
                path, f"{show(email)} is listed twice (allowed: each once)", rm_command(path)
            )


def check_logs(logs: LogsConfig, findings: Findings) -> None:
    if logs.retention_days not in LOG_RETENTION_DAYS:
        findings.error(
            "logs.retentionDays",
            f"{logs.retention_days} is not a CloudWatch Logs retention period "
            f"(allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})",
            set_command(
                "logs.retentionDays", _nearest_at_least(logs.retention_days, LOG_RETENTION_DAYS)
            ),
        )


def check_deployment(deployment: DeploymentConfig, *, any_routed: bool, findings: Findings) -> None:
    if deployment.health_check_timeout >= deployment.health_check_interval:
        findings.error(
            "deployment.healthCheckTimeout",
            f"{deployment.health_check_timeout} is not shorter than healthCheckInterval "
            f"{deployment.health_check_interval}: ELB requires a target group's health check "
            "timeout to be shorter than its interval (allowed: timeout < interval)",
            set_command(
                "deployment.healthCheckTimeout", max(2, deployment.health_check_interval - 1)
            ),
        )
    needed = deployment.healthy_threshold * deployment.health_check_interval
    if any_routed and deployment.health_check_grace_period < needed:
        findings.error(
            "deployment.healthCheckGracePeriod",
            f"{deployment.health_check_grace_period} is shorter than the {needed} s a new task "
            f"needs to pass {deployment.healthy_threshold} health checks "
            f"{deployment.health_check_interval} s apart, so ECS could replace healthy tasks "
            "that are still starting (allowed: >= healthyThreshold x healthCheckInterval)",
            set_command("deployment.healthCheckGracePeriod", needed),
        )
    if deployment.minimum_healthy_percent == 100 and deployment.maximum_percent == 100:
        findings.error(
            "deployment.maximumPercent",
            "100 with minimumHealthyPercent 100 leaves ECS no room to start a new task or stop "
            "an old one, so a deployment cannot proceed (allowed: maximumPercent > 100 when "
            "minimumHealthyPercent is 100)",
            set_command("deployment.maximumPercent", 200),
        )


def check_draining(
    deployment: DeploymentConfig,
    cluster: ClusterConfig,
    *,
    any_routed: bool,
    findings: Findings,
) -> None:
    """Draining must fit the time a task has left. ECS drains a stopping task's targets before
    it signals the container, except on a Fargate Spot interruption: the task then has two
    minutes from the warning, whatever the deregistration delay."""
    spot = any(p.provider == "FARGATE_SPOT" and p.weight > 0 for p in cluster.capacity_providers)
    delay = deployment.deregistration_delay
    if any_routed and spot and delay > FARGATE_SPOT_WARNING_SECONDS:
        findings.error(
            "deployment.deregistrationDelay",
            f"{delay} is longer than the {FARGATE_SPOT_WARNING_SECONDS} s a Fargate Spot task "
            "has between its interruption warning and its stop, so draining would be cut off "
            f"(allowed: <= {FARGATE_SPOT_WARNING_SECONDS} with FARGATE_SPOT capacity)",
            set_command("deployment.deregistrationDelay", FARGATE_SPOT_WARNING_SECONDS),
        )


def check_architecture_capacity(
    services: Mapping[str, ServiceConfig], cluster: ClusterConfig, findings: Findings
) -> None:
    """A service whose CPU architecture Fargate Spot does not run keeps to FARGATE: valid, but
    it costs the on-demand price and the cluster's Spot share does not apply to it."""
    spot = [
        index
        for index, share in enumerate(cluster.capacity_providers)
        if share.provider == "FARGATE_SPOT" and (share.weight > 0 or share.base > 0)
    ]
    if not spot:
        return
    for name in sorted(services):
        architecture = services[name].cpu_architecture
        if architecture in SPOT_ARCHITECTURES:
            continue
        findings.warn(
            f"services.{name}.cpuArchitecture",
            f'{show(architecture)} does not run on Fargate Spot (AWS: "Linux tasks with the '
            f"ARM64 architecture don't support the Fargate Spot capacity provider\"), so {name} "
            f"runs on FARGATE only, at the on-demand price, whatever "
            f"cluster.capacityProviders[{spot[0]}] (FARGATE_SPOT) asks "
            "(allowed: ARM64 on FARGATE, or X86_64 to use Spot)",
            set_command(f"services.{name}.cpuArchitecture", "X86_64"),
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


def note_teardown(
    teardown: TeardownConfig, lb: LoadBalancerConfig | None, findings: Findings
) -> None:
    """The stack is being prepared for `pulumi destroy`: say what that turns off."""
    fate = {
        "keep": "leaves the access-log bucket, the log groups and their key in the account",
        "delete": "deletes the access logs (every version), the log groups and their key",
    }[teardown.logs]
    protection = (
        "the load balancer's deletion protection is off, and "
        if lb is not None and lb.deletion_protection
        else ""
    )
    findings.warn(
        "teardown.logs",
        f"{show(teardown.logs)} prepares this stack for `pulumi destroy`: {protection}a "
        f"destroy {fate} (allowed: keep, delete; remove the key to run the stack normally)",
        rm_command("teardown"),
    )


# --- the catalog and the stack as a whole ------------------------------------------------------


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


def check_collector_room(
    services: Mapping[str, ServiceConfig],
    observability: ObservabilityConfig,
    *,
    production: bool,
    service_connect: bool = False,
    findings: Findings,
) -> None:
    """With tracing on, each task's collector takes its CPU and memory out of the task's (and,
    under Service Connect, the proxy its memory); the application keeps at least as much of
    each as the collector."""
    if not (production if observability.tracing is None else observability.tracing):
        return
    proxy = SERVICE_CONNECT_PROXY_MEMORY if service_connect else 0
    shares = (
        ("cpu", "collectorCpu", observability.collector_cpu, "CPU units"),
        ("memory", "collectorMemory", observability.collector_memory, "MiB"),
    )
    for name in sorted(services):
        svc = services[name]
        if svc.cpu not in FARGATE_MEMORY_BY_CPU:
            continue  # already reported as a bad size
        for key, collector_key, collector, unit in shares:
            size: int = getattr(svc, key)
            reserved = collector + (proxy if key == "memory" else 0)
            if size - reserved >= collector:
                continue
            allowed = (
                tuple(FARGATE_MEMORY_BY_CPU) if key == "cpu" else FARGATE_MEMORY_BY_CPU[svc.cpu]
            )
            findings.error(
                f"services.{name}.{key}",
                f"{size} leaves the application {size - reserved} {unit} beside the trace "
                f"collector's {collector} (observability.{collector_key})"
                + (f" and the Service Connect proxy's {proxy}" if reserved != collector else "")
                + f" (allowed: at least {reserved + collector}, so that the application keeps "
                f"as much as the collector, or a smaller observability.{collector_key}, or "
                "observability.tracing false)",
                set_command(
                    f"services.{name}.{key}", _nearest_at_least(reserved + collector, allowed)
                ),
            )


def check_production(
    services: Mapping[str, ServiceConfig],
    catalog: Mapping[str, ServiceSpec],
    cluster: ClusterConfig,
    findings: Findings,
) -> None:
    """Production needs a non-root user for every service (Security Hub ECS.20); and warnings:
    valid, but not what production usually wants."""
    for name in sorted(catalog):
        svc = services.get(name, ServiceConfig())
        own_image = svc.image in (None, catalog[name].image)
        # (A custom image without a user is an error for every stack already.)
        if svc.user is None and own_image and catalog[name].user is None:
            findings.error(
                f"services.{name}.user",
                "is required in production: containers run as a non-root user (allowed: the "
                "numeric uid the image runs as)",
                set_command(f"services.{name}.user", "10001"),
            )
        fewest = svc.autoscaling.min_count if svc.autoscaling else svc.desired_count
        if fewest < 2:
            key = "autoscaling.minCount" if svc.autoscaling else "desiredCount"
            findings.warn(
                f"services.{name}.{key}",
                f"{fewest} lets {name} run on a single task, which one AZ's outage or one "
                "task's failure takes down (allowed: any count; 2 or more spread tasks over AZs)",
                set_command(f"services.{name}.{key}", 2),
            )
    for name in sorted(services):
        if services[name].alarms.rollback is False:
            findings.warn(
                f"services.{name}.alarms.rollback",
                "false in production: a release that raises errors or latency stays out until "
                "someone rolls it back by hand (allowed: true, false)",
                rm_command(f"services.{name}.alarms.rollback"),
            )
    if cluster.container_insights == "disabled":
        findings.warn(
            "cluster.containerInsights",
            '"disabled" in production: the running-task alarms read Container Insights '
            "metrics, so they are not created (allowed: enabled, enhanced)",
            set_command("cluster.containerInsights", "enhanced"),
        )
    for index, share in enumerate(cluster.capacity_providers):
        if share.provider == "FARGATE_SPOT" and share.weight > 0:
            findings.warn(
                f"cluster.capacityProviders[{index}]",
                "FARGATE_SPOT in production: Spot tasks can be stopped at two minutes' notice "
                "when AWS needs the capacity back (allowed: FARGATE only, or Spot beside an "
                "on-demand base)",
                rm_command(f"cluster.capacityProviders[{index}]"),
            )
