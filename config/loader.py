"""Stack config in, validated StackSettings out: every problem reported at once."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, get_args

from config import rules
from config.calls import callers_first
from config.contract import (
    missing_endpoint_issue,
    missing_topic_issue,
    parse_contract,
    reference_issue,
    service_stack_key_issues,
)
from config.events import subscriptions
from config.issues import ConfigError, ConfigIssue, Findings, rm_command, show, unknown_key_issue
from config.schema import (
    BLOCKS,
    OPTIONAL_BLOCKS,
    TOP_LEVEL_KEYS,
    DiscoveryConfig,
    Environment,
    LoadBalancerConfig,
    NetworkConfig,
    ServiceConfig,
)
from config.settings import StackSettings, merge
from config.stack_input import PROJECT, PROVIDER_NAMESPACES, OtherStack
from config.translate import parse
from services import CATALOG, ServiceSpec


def load_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    catalog: Mapping[str, ServiceSpec] = CATALOG,
    project: str = PROJECT,
    deploying: bool = False,
    secret_keys: frozenset[str] = frozenset(),
    secret_paths: Mapping[str, Sequence[str]] = MappingProxyType({}),
    foreign_keys: Mapping[str, Any] = MappingProxyType({}),
    other_stacks: Mapping[str, OtherStack] = MappingProxyType({}),
    platform: Mapping[str, Any] | None = None,
) -> StackSettings:
    """Validate the `microservices:*` config of one stack and merge it with the catalog.

    `raw` maps top-level keys (without the namespace) to their parsed values. Raises
    ConfigError listing every problem found. `deploying` (an update, not a preview) also
    refuses placeholders. `secret_keys` are the top-level keys that hold a secret: they are
    refused, naming the nested keys of `secret_paths` where known, and their values never
    appear in a message. `foreign_keys` are keys in other namespaces than the project's, the
    providers' and Pulumi's. `other_stacks` are the project's other stack files, whose networks
    this stack's should not overlap. `platform` holds a service stack's platform outputs.
    """
    if raw.get("platform") is not None:
        return _load_service_stack(
            raw,
            stack=stack,
            region=region,
            catalog=catalog,
            secret_keys=secret_keys,
            foreign_keys=foreign_keys,
            platform=platform,
            project=project,
            other_stacks=other_stacks,
        )
    findings = Findings()
    issues = findings.errors
    for full_key, value in foreign_keys.items():
        issues.append(foreign_key_issue(full_key, value, project))
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            issues.append(misplaced_key_issue(key, raw[key], secret=key in secret_keys))
    for key in sorted(secret_keys & set(raw)):
        for path in secret_paths.get(key) or (key,):
            findings.error(
                path,
                "is stored as a secret, but nothing in this config may be secret: values reach "
                "the task definition in plain text (allowed: plain values; keep a secret in "
                "Secrets Manager or SSM and name its ARN under services.<name>.secrets)",
                f"{rm_command(path)}, then set it again without --secret"
                if path != key
                else f"pulumi config rm {key}, then set its keys again without --secret",
            )
    raw = {key: value for key, value in raw.items() if key not in secret_keys}

    if not region:
        findings.error(
            "aws:region",
            "is not set (allowed: an AWS region, e.g. us-east-1)",
            "pulumi config set aws:region us-east-1",
        )
    environment = raw.get("environment", "development")
    if environment not in get_args(Environment):
        findings.error(
            "environment",
            f"{show(environment)} is not allowed (allowed: {', '.join(get_args(Environment))})",
            "pulumi config set environment development",
        )

    blocks: dict[str, Any] = {}
    for key, model in BLOCKS.items():
        value = raw.get(key)
        blocks[key] = parse(model, {} if value is None else value, (key,), issues)
    for key, model in OPTIONAL_BLOCKS.items():
        value = raw.get(key)
        blocks[key] = None if value is None else parse(model, value, (key,), issues)
    if blocks["teardown"] is not None:
        rules.note_teardown(blocks["teardown"], blocks["loadBalancer"], findings)

    services: dict[str, ServiceConfig] = {}
    services_raw = raw.get("services") or {}
    if not isinstance(services_raw, Mapping):
        findings.error(
            "services",
            f"{show(services_raw)} is not a map (allowed: a map of service names to settings)",
            rm_command("services"),
        )
        services_raw = {}
    all_services_parsed = True
    service_connect = (
        None if blocks["discovery"] is None else blocks["discovery"].mode == "serviceConnect"
    )
    for key, value in services_raw.items():
        if key not in catalog:
            issues.append(unknown_key_issue(f"services.{key}", str(key), catalog, noun="service"))
            continue
        parsed = parse(ServiceConfig, {} if value is None else value, ("services", key), issues)
        if parsed is None:
            all_services_parsed = False
            continue
        services[key] = parsed
        rules.check_service(key, parsed, catalog[key], findings, service_connect=service_connect)

    platform_stack = _platform_stack_flag(raw, findings)
    if platform_stack and raw.get("services"):
        findings.error(
            "services",
            "is set in a platform stack (serviceStacks: true), which declares every service's "
            "endpoint but runs none: a service's settings belong in its service stack "
            "(allowed: no services key here)",
            "pulumi config rm services, and set them in the service stacks",
        )
    namespace = _check_blocks(blocks, stack, region, environment, deploying, catalog, findings)
    if blocks["network"] is not None:
        rules.check_other_stacks(blocks["network"], region, other_stacks, findings)
    rules.check_catalog(stack, catalog, findings)
    rules.check_events(project, stack, catalog, findings)
    if blocks["observability"] is not None and all_services_parsed and not platform_stack:
        rules.check_collector_room(
            {name: services.get(name, ServiceConfig()) for name in catalog},
            blocks["observability"],
            production=environment == "production",
            service_connect=(
                blocks["discovery"] is not None and blocks["discovery"].mode == "serviceConnect"
            ),
            findings=findings,
        )
    if blocks["cluster"] is not None and not platform_stack:
        rules.check_architecture_capacity(services, blocks["cluster"], findings)
    if environment == "production" and blocks["cluster"] is not None and all_services_parsed:
        # A platform stack runs no service: its service stacks are checked for them.
        rules.check_production(
            services, {} if platform_stack else catalog, blocks["cluster"], findings
        )

    if findings.errors:
        raise ConfigError(stack, findings.errors)
    discovery: DiscoveryConfig = blocks["discovery"]
    return StackSettings(
        project=project,
        stack=stack,
        region=str(region),
        environment=environment,
        network=blocks["network"],
        cluster=blocks["cluster"],
        namespace=namespace,
        record_ttl=discovery.record_ttl,
        discovery=discovery,
        load_balancer=blocks["loadBalancer"],
        deployment=blocks["deployment"],
        logs=blocks["logs"],
        alerts=blocks["alerts"],
        observability=blocks["observability"],
        teardown=blocks["teardown"],
        role="platform" if platform_stack else "all-in-one",
        services=tuple(
            merge(
                catalog[name],
                services.get(name, ServiceConfig()),
                catalog,
                namespace,
                environment,
                per_request_timeout_seconds=discovery.per_request_timeout_seconds,
            )
            for name in callers_first(catalog)
        ),
        warnings=tuple(str(warning) for warning in findings.warnings),
    )


def _platform_stack_flag(raw: Mapping[str, Any], findings: Findings) -> bool:
    value = raw.get("serviceStacks", False)
    if not isinstance(value, bool):
        findings.error(
            "serviceStacks",
            f"{show(value)} is not a boolean (allowed: true for a platform stack, false)",
            "pulumi config set serviceStacks true",
        )
        return False
    return value


def service_stack_reference(raw: Mapping[str, Any], stack: str) -> str | None:
    """The platform a service stack names, once its own keys are right; None for the other
    kinds of stack. Checked before the platform is read, so that nothing is read for a
    config that is wrong on its face."""
    reference = raw.get("platform")
    if reference is None:
        return None
    issues = []
    if (found := reference_issue(reference)) is not None:
        issues.append(found)
    else:
        issues += service_stack_key_issues(raw, reference)
    if issues:
        raise ConfigError(stack, issues)
    return str(reference)


def _load_service_stack(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    catalog: Mapping[str, ServiceSpec],
    secret_keys: frozenset[str],
    foreign_keys: Mapping[str, Any],
    platform: Mapping[str, Any] | None,
    project: str,
    other_stacks: Mapping[str, OtherStack],
) -> StackSettings:
    """A service stack: its services' settings, on what its platform exported. Its errors
    name the service stack itself (`stack`), not its platform."""
    reference = str(raw["platform"])
    findings = Findings()
    issues = findings.errors
    for full_key, value in foreign_keys.items():
        issues.append(foreign_key_issue(full_key, value, project))
    if (found := reference_issue(reference)) is not None:
        raise ConfigError(stack, [found])
    issues += service_stack_key_issues(raw, reference)
    for key in sorted(secret_keys & set(raw)):
        findings.error(
            key,
            "is stored as a secret, but nothing in this config may be secret: values reach the "
            "task definition in plain text (allowed: plain values)",
            f"pulumi config rm {key}, then set its keys again without --secret",
        )
    contract, contract_issues = parse_contract(reference, platform or {}, region=region)
    issues += contract_issues
    if contract is None:
        raise ConfigError(stack, issues)

    services_raw = raw.get("services") or {}
    if not isinstance(services_raw, Mapping) or not services_raw:
        findings.error(
            "services",
            f"{show(services_raw)} lists no service (allowed: a map of the services this stack "
            "runs to their settings, at least one)",
            "pulumi config set --path 'services.<name>.desiredCount' 1",
        )
        services_raw = {}
    services: dict[str, ServiceConfig] = {}
    for key, value in services_raw.items():
        if key not in catalog:
            issues.append(unknown_key_issue(f"services.{key}", str(key), catalog, noun="service"))
            continue
        if key not in contract.endpoints:
            issues.append(missing_endpoint_issue(key, contract))
            continue
        issues += claimed_elsewhere_issues(stack, key, reference, other_stacks)
        spec = catalog[key]
        for publisher in (
            *((key,) if spec.publishes else ()),
            *subscriptions(spec, catalog),
        ):
            if publisher not in contract.events.publishers:
                issues.append(missing_topic_issue(key, publisher, contract))
        parsed = parse(ServiceConfig, {} if value is None else value, ("services", key), issues)
        if parsed is None:
            continue
        services[key] = parsed
        rules.check_service(
            key,
            parsed,
            catalog[key],
            findings,
            service_connect=contract.discovery.mode == "serviceConnect",
        )
    if not issues:
        rules.check_collector_room(
            services,
            contract.observability,
            production=contract.environment == "production",
            service_connect=contract.discovery.mode == "serviceConnect",
            findings=findings,
        )
    if not issues:
        rules.check_architecture_capacity(services, contract.cluster, findings)
    if contract.environment == "production" and not issues:
        rules.check_production(
            services, {name: catalog[name] for name in services}, contract.cluster, findings
        )
    if findings.errors:
        raise ConfigError(stack, findings.errors)
    return StackSettings(
        project=contract.project,
        stack=contract.stack,
        region=contract.region,
        environment=contract.environment,  # type: ignore[arg-type]
        network=NetworkConfig(),
        cluster=contract.cluster,
        namespace=contract.namespace,
        record_ttl=DiscoveryConfig().record_ttl,
        discovery=contract.discovery,
        load_balancer=LoadBalancerConfig(),
        deployment=contract.deployment,
        logs=contract.logs,
        observability=contract.observability,
        role="service",
        platform=contract,
        services=tuple(
            merge(
                catalog[name],
                services[name],
                catalog,
                contract.namespace,
                contract.environment,
                per_request_timeout_seconds=contract.discovery.per_request_timeout_seconds,
            )
            for name in callers_first(catalog)
            if name in services
        ),
        warnings=tuple(str(warning) for warning in findings.warnings),
    )


def claimed_elsewhere_issues(
    stack: str, service: str, reference: str, other_stacks: Mapping[str, OtherStack]
) -> list[ConfigIssue]:
    """`service` is also under `services` in another service stack of the same platform: both
    stacks would create its ECS service, roles and task definition with the same names, and
    whichever deployed second would fail on them (or take them over)."""
    claims = sorted(
        name
        for name, other in other_stacks.items()
        if name != stack and other.platform == reference and service in other.services
    )
    return [
        ConfigIssue(
            path=f"services.{service}",
            message=f"is also run by the service stack '{other}' of the same platform "
            f"{reference}: Pulumi.{stack}.yaml and Pulumi.{other}.yaml would both create its "
            "ECS service, task definition and roles (allowed: one service stack per service)",
            fix=f"pulumi config rm --stack {stack} --path 'services.{service}', or the same "
            f"with --stack {other}",
        )
        for other in claims
    ]


def foreign_key_issue(full_key: str, value: Any, project: str) -> ConfigIssue:
    """A key in a namespace nothing reads: most likely a misspelt project namespace. `value`
    is None for a secret, which is never shown."""
    namespace, _, key = full_key.partition(":")
    known = (project, *PROVIDER_NAMESPACES)
    hint = difflib.get_close_matches(namespace, known, n=1)
    meant = f"{hint[0] if hint else project}:{key}"
    shown = "" if value is None else f"{show(value)} "
    if isinstance(value, Mapping | list):
        again = f"set each of its keys with pulumi config set --path '{meant}.<key>' <value>"
    else:
        again = f"pulumi config set {shlex.quote(meant)} " + (
            "<value>" if value is None else shlex.quote(str(value))
        )
    return ConfigIssue(
        path=full_key,
        message=f"{shown}is in the namespace '{namespace}', which nothing reads, so it is "
        f"ignored (allowed: the namespaces {', '.join(known)}); did you mean '{meant}'?",
        fix=f"pulumi config rm {shlex.quote(full_key)}, then {again}",
    )


def misplaced_key_issue(key: str, value: Any, *, secret: bool) -> ConfigIssue:
    """An unknown top-level key; one that reads as a path was set without `--path`."""
    head = key.split(".", 1)[0].split("[", 1)[0]
    if ("." in key or "[" in key) and head in TOP_LEVEL_KEYS:
        shown = "<value>" if secret else (value if isinstance(value, str) else show(value))
        return ConfigIssue(
            path=key,
            message=f"is a top-level key whose name contains the path: it was set without "
            f"--path, so nothing reads it (allowed: the nested key {key}, set with --path)",
            fix=f"pulumi config rm '{key}', then pulumi config set --path '{key}' "
            f"{shlex.quote(str(shown))}",
        )
    return unknown_key_issue(key, key, TOP_LEVEL_KEYS)


def _check_blocks(
    blocks: Mapping[str, Any],
    stack: str,
    region: str | None,
    environment: str,
    deploying: bool,
    catalog: Mapping[str, ServiceSpec],
    findings: Findings,
) -> str:
    """The rules over each block that parsed; returns the namespace in effect."""
    any_routed = any(spec.routes for spec in catalog.values())
    if blocks["cluster"] is not None:
        rules.check_cluster(blocks["cluster"], findings)
    if blocks["network"] is not None:
        rules.check_network(blocks["network"], findings)
    namespace = f"{stack}.internal"
    if blocks["discovery"] is not None:
        namespace = blocks["discovery"].namespace or namespace
        rules.check_namespace(namespace, stack, findings)
        rules.check_discovery(blocks["discovery"], namespace, catalog, findings)
    if blocks["logs"] is not None:
        rules.check_logs(blocks["logs"], findings)
    if blocks["alerts"] is not None:
        rules.check_alerts(blocks["alerts"], findings)
    if blocks["deployment"] is not None:
        rules.check_deployment(
            blocks["deployment"],
            any_routed=any_routed,
            findings=findings,
        )
    if blocks["deployment"] is not None and blocks["cluster"] is not None:
        rules.check_draining(
            blocks["deployment"],
            blocks["cluster"],
            any_routed=any_routed,
            findings=findings,
        )
    if blocks["loadBalancer"] is not None:
        rules.check_load_balancer(stack, blocks["loadBalancer"], findings)
        rules.check_certificate(
            blocks["loadBalancer"].certificate_arn,
            environment=environment,
            region=region,
            deploying=deploying,
            findings=findings,
        )
    return namespace


__all__ = ["PROJECT", "ConfigIssue", "load_settings", "service_stack_reference"]
