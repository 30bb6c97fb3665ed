"""One service's config: rollout, alarms, image, size, autoscaling band, variables."""

from __future__ import annotations

import json

from pydantic.alias_generators import to_camel

from config.issues import Findings, list_text, rm_command, set_command, show
from config.limits import (
    ENV_NAME,
    FARGATE_MEMORY_BY_CPU,
    IMAGE_REFERENCE,
    KMS_KEY_ARN,
    SECRET_ARN,
    TASK_DEFINITION_MAX_BYTES,
)
from config.rules.common import SECRET_FIX, _nearest_at_least
from config.schema import (
    ServiceConfig,
)
from services import ServiceSpec


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
