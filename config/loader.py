"""Stack config in, validated StackSettings out: every problem reported at once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_args

from config import rules
from config.calls import callers_first
from config.issues import ConfigError, ConfigIssue, Findings, rm_command, show, unknown_key_issue
from config.schema import BLOCKS, TOP_LEVEL_KEYS, DiscoveryConfig, Environment, ServiceConfig
from config.settings import StackSettings, merge
from config.translate import parse
from services import CATALOG, ServiceSpec

PROJECT = "microservices"


def load_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    catalog: Mapping[str, ServiceSpec] = CATALOG,
    project: str = PROJECT,
    deploying: bool = False,
    secret_keys: frozenset[str] = frozenset(),
) -> StackSettings:
    """Validate the `microservices:*` config of one stack and merge it with the catalog.

    `raw` maps top-level keys (without the namespace) to their parsed values. Raises
    ConfigError listing every problem found. `deploying` (an update, not a preview) also
    refuses placeholders. `secret_keys` are the top-level keys stored as secrets: they are
    refused, and their values never appear in a message.
    """
    findings = Findings()
    issues = findings.errors
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            issues.append(unknown_key_issue(key, key, TOP_LEVEL_KEYS))
    for key in sorted(secret_keys & set(raw)):
        findings.error(
            key,
            "is stored as a secret, but nothing in this config may be secret: values reach the "
            "task definition in plain text (allowed: plain values; keep a secret in Secrets "
            "Manager or SSM and name its ARN under services.<name>.secrets)",
            f"pulumi config rm {key}, then set its keys again without --secret",
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
    for key, value in services_raw.items():
        if key not in catalog:
            issues.append(unknown_key_issue(f"services.{key}", str(key), catalog, noun="service"))
            continue
        parsed = parse(ServiceConfig, {} if value is None else value, ("services", key), issues)
        if parsed is None:
            all_services_parsed = False
            continue
        services[key] = parsed
        rules.check_service(key, parsed, catalog[key], findings)

    namespace = _check_blocks(blocks, stack, region, environment, deploying, catalog, findings)
    rules.check_catalog(stack, catalog, findings)
    if environment == "production" and blocks["cluster"] is not None and all_services_parsed:
        rules.check_production(services, catalog, blocks["cluster"], findings)

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
        load_balancer=blocks["loadBalancer"],
        deployment=blocks["deployment"],
        logs=blocks["logs"],
        services=tuple(
            merge(catalog[name], services.get(name, ServiceConfig()), catalog, namespace)
            for name in callers_first(catalog)
        ),
        warnings=tuple(str(warning) for warning in findings.warnings),
    )


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
    if blocks["logs"] is not None:
        rules.check_logs(blocks["logs"], findings)
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


def read_stack_config() -> tuple[dict[str, Any], str | None, frozenset[str]]:
    """The `microservices:*` config of the running stack, `aws:region`, and which of the
    `microservices:*` keys are stored as secrets.

    Reads every key of the project's namespace, so that a misspelt top-level key is reported
    rather than ignored. The SDK has no public call that lists config keys; its runtime
    config module holds them.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    raw: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for full_key in sorted(keys):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if runtime_config.is_config_secret(full_key):
            secret_keys.add(key)
        value = runtime_config.get_config(full_key)
        try:
            raw[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            raw[key] = value
    region = pulumi.Config("aws").get("region")
    return raw, region, frozenset(secret_keys)


__all__ = ["PROJECT", "ConfigIssue", "load_settings", "read_stack_config"]
