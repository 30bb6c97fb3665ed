"""The containers of a service's task, as plain data (no Pulumi): the application container, the
/tmp preparation before it, and the collector sidecar beside it when tracing is on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.observability.tracing import (
    COLLECTOR_CONTAINER,
    CollectorArgs,
    collector_definition,
)

TMP_VOLUME = "tmp"
PREPARE_TMP_CONTAINER = "prepare-tmp"
# The /tmp preparation runs its own small image, so that it works whatever the application's
# image holds (distroless and scratch images have no shell and no chmod). BusyBox, from the
# Docker official images that AWS mirrors in the ECR Public Gallery
# (https://gallery.ecr.aws/docker/library/busybox): pulled without Docker Hub's rate limits
# and without credentials. Pinned by tag; its `chmod` is /bin/chmod.
PREPARE_TMP_IMAGE = "public.ecr.aws/docker/library/busybox:1.37.0"


def _log_configuration(log_group: str, region: str, stream_prefix: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": stream_prefix,
            # A full log buffer drops lines instead of blocking the application.
            "mode": "non-blocking",
            "max-buffer-size": "25m",
        },
    }


def _tmp_mount() -> list[dict[str, Any]]:
    return [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}]


@dataclass(frozen=True, kw_only=True)
class Container:
    """The application container of a task, as plain values."""

    name: str
    image: str
    port: int
    environment: Mapping[str, str]
    secrets: Mapping[str, str]
    """Variable name -> Secrets Manager secret or SSM parameter ARN."""
    user: str | None
    log_group: str
    region: str
    stop_timeout: int = 30
    cpu: int | None = None
    """CPU units reserved for the container; unset, it shares the task's."""
    memory: int | None = None
    """MiB, a hard limit; unset, the task's memory is the limit."""
    port_name: str | None = None
    """Name the port mapping, as Service Connect finds it, and declare it HTTP."""


def _port_mapping(container: Container) -> dict[str, Any]:
    mapping: dict[str, Any] = {"containerPort": container.port, "protocol": "tcp"}
    if container.port_name is not None:
        # A service's Service Connect configuration names the port; with appProtocol `http`
        # the proxy reports HTTP metrics (response codes, response time)
        # (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PortMapping.html).
        mapping |= {"name": container.port_name, "appProtocol": "http"}
    return mapping


def container_definition(container: Container, *, wait_for_tmp: bool = False) -> dict[str, Any]:
    """One hardened container: read-only root with a writable /tmp, non-root where the image
    allows it, an init process to reap children and forward signals, logs to CloudWatch."""
    environment, secrets = container.environment, container.secrets
    definition: dict[str, Any] = {
        "name": container.name,
        "image": container.image,
        "essential": True,
        "portMappings": [_port_mapping(container)],
        "environment": [{"name": k, "value": environment[k]} for k in sorted(environment)],
        "secrets": [{"name": k, "valueFrom": secrets[k]} for k in sorted(secrets)],
        "readonlyRootFilesystem": True,
        "privileged": False,
        "mountPoints": _tmp_mount(),
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": container.stop_timeout,
        "logConfiguration": _log_configuration(
            container.log_group, container.region, container.name
        ),
    }
    if container.user is not None:
        definition["user"] = container.user
    if container.cpu is not None:
        definition["cpu"] = container.cpu
    if container.memory is not None:
        definition["memory"] = container.memory
    if wait_for_tmp:
        definition["dependsOn"] = [{"containerName": PREPARE_TMP_CONTAINER, "condition": "SUCCESS"}]
    return definition


def prepare_tmp_definition(*, log_group: str, region: str) -> dict[str, Any]:
    """A short-lived container that makes the task's /tmp volume writable for everyone.

    Fargate creates a bind-mount volume owned by root with mode 0755, unless the image declares
    it (`VOLUME`) with other ownership; a non-root application could not write its /tmp. This
    container runs once, as root, before the application starts, and changes nothing else.
    """
    return {
        "name": PREPARE_TMP_CONTAINER,
        "image": PREPARE_TMP_IMAGE,
        "essential": False,
        "user": "0",
        # No shell involved: the command is the binary and its arguments.
        "entryPoint": ["/bin/chmod"],
        "command": ["1777", "/tmp"],
        "readonlyRootFilesystem": True,
        "privileged": False,
        "mountPoints": _tmp_mount(),
        "logConfiguration": _log_configuration(log_group, region, PREPARE_TMP_CONTAINER),
    }


def task_containers(
    container: Container,
    *,
    prepare_tmp: bool = True,
    collector: CollectorArgs | None = None,
) -> list[dict[str, Any]]:
    """The task's container definitions: the application, preceded by the /tmp preparation
    when the application runs as a non-root user and its image does not prepare /tmp itself,
    and followed by the trace collector when the task traces."""
    needs_preparation = prepare_tmp and container.user not in (None, "0", "root")
    definitions = [container_definition(container, wait_for_tmp=needs_preparation)]
    if collector is not None:
        definitions.append(
            collector_definition(
                collector,
                region=container.region,
                log_configuration=_log_configuration(
                    container.log_group, container.region, COLLECTOR_CONTAINER
                ),
            )
        )
    if needs_preparation:
        definitions.insert(
            0,
            prepare_tmp_definition(log_group=container.log_group, region=container.region),
        )
    return definitions
