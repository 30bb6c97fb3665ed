"""ECS: services, task definitions and clusters (`aws:ecs/...`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.control import (
    CLUSTER,
    ECS_SERVICE,
    ROOT_USERS,
    SECRET_LIKE_NAME,
    SECURITY_HUB_SECRET_VARIABLES,
    TASK_DEFINITION,
    Declared,
    _containers,
)

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


# The program's /tmp preparation: its own pinned image, running exactly one chmod (the pack
# runs in its own virtualenv, so it repeats the program's values; a test keeps them equal).
TMP_PREPARATION_IMAGE = "public.ecr.aws/docker/library/busybox:1.37.0"
TMP_PREPARATION_COMMAND = (["/bin/chmod"], ["1777", "/tmp"])


def _is_tmp_preparation(container: Mapping[str, Any]) -> bool:
    """The non-essential init container that only makes the /tmp volume writable."""
    mounts = container.get("mountPoints") or []
    return (
        container.get("essential") is False
        and container.get("image") == TMP_PREPARATION_IMAGE
        and (container.get("entryPoint"), container.get("command")) == TMP_PREPARATION_COMMAND
        and [m.get("containerPath") for m in mounts] == ["/tmp"]
    )


@declare.resource(
    name="ecs-release-rollback",
    ids="project",
    description=(
        "ECS services roll a release back by themselves: on tasks that fail to start "
        "(circuit breaker) and on the alarms that mean a bad release (deployment alarms)."
    ),
    how=(
        "Every service keeps the circuit breaker with rollback; its release alarms (5xx "
        "rate, unhealthy targets, p99 latency; for a service without a route, its callers' "
        "5xx rate and p99 latency under Service Connect, else running tasks) are in its "
        "`alarms` block with rollback, on by default in production "
        "(`services.<name>.alarms.rollback`)."
    ),
    scope="production",
    on_unknown="deny",
    types=(ECS_SERVICE,),
)
def _release_safeguards(props: Mapping[str, Any]) -> Iterable[str]:
    breaker = props.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        yield (
            "the deployment circuit breaker is off or does not roll back: set "
            "deploymentCircuitBreaker to enable and rollback"
        )
    alarms = props.get("alarms") or {}
    if not (alarms.get("enable") is True and alarms.get("rollback") is True):
        yield (
            "no deployment alarms with rollback: name the release alarms in the service's "
            "alarms block with enable and rollback"
        )
    elif not alarms.get("alarmNames"):
        yield "the alarms block names no alarm: list the alarms that mean a bad release"


@declare.resource(
    name="ecs-no-public-ip",
    ids="ECS.2, CKV_AWS_333",
    description="ECS services do not assign public IPs to their tasks.",
    how="Services run in private subnets with `assignPublicIp: false`; egress through NAT.",
    scope="all",
    on_unknown="deny",
    types=(ECS_SERVICE,),
)
def _no_public_ip(props: Mapping[str, Any]) -> Iterable[str]:
    network = props.get("networkConfiguration") or {}
    if network.get("assignPublicIp") is True:
        yield "tasks get a public IP: set networkConfiguration.assignPublicIp to false"


@declare.resource(
    name="ecs-not-privileged",
    ids="ECS.4",
    description="Containers do not run privileged.",
    how="Every container definition sets `privileged: false`.",
    scope="all",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _not_privileged(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if container.get("privileged") is True:
            yield f"container '{container.get('name')}' is privileged"


@declare.resource(
    name="ecs-no-host-namespaces",
    ids="ECS.3",
    description="Task definitions do not share the host's process or IPC namespace.",
    how="Task definitions set neither `pidMode` nor `ipcMode`.",
    scope="all",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _no_host_namespaces(props: Mapping[str, Any]) -> Iterable[str]:
    for key in ("pidMode", "ipcMode"):
        if props.get(key) == "host":
            yield f"{key} is host: the task shares the host's namespace"


@declare.resource(
    name="ecs-read-only-root",
    ids="ECS.5",
    description="Containers have read-only root filesystems.",
    how="`readonlyRootFilesystem: true`, with a task volume mounted writable at `/tmp`.",
    scope="all",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _read_only_root(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if container.get("readonlyRootFilesystem") is not True:
            yield (
                f"container '{container.get('name')}' has a writable root filesystem: set "
                "readonlyRootFilesystem and mount a volume for what it writes"
            )


@declare.resource(
    name="ecs-no-secrets-in-environment",
    ids="ECS.8",
    description="No secrets in container environment variables; secrets go through `secrets`.",
    how=(
        "Config `secrets` become the task's `secrets` (ARNs); config stored as secrets is refused."
    ),
    scope="all",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _no_secrets_in_environment(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        for variable in container.get("environment") or []:
            name = str(variable.get("name", ""))
            if name in SECURITY_HUB_SECRET_VARIABLES or SECRET_LIKE_NAME.search(name):
                yield (
                    f"container '{container.get('name')}' passes {name} in `environment`: "
                    "use `secrets` with a Secrets Manager or SSM parameter ARN"
                )


@declare.resource(
    name="ecs-containers-log",
    ids="ECS.9",
    description="Every container has a log configuration.",
    how="Every container logs to its service's log group through `awslogs`.",
    scope="all",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _containers_log(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if not (container.get("logConfiguration") or {}).get("logDriver"):
            yield f"container '{container.get('name')}' has no logConfiguration.logDriver"


@declare.resource(
    name="ecs-service-connect-logs",
    ids="project",
    description="The Service Connect proxy that ECS adds to a service's tasks logs too.",
    how=(
        "Under `discovery.mode: serviceConnect` each service's "
        "`serviceConnectConfiguration.logConfiguration` sends its proxy's logs to the "
        "service's log group (`awslogs`, stream prefix `service-connect`)."
    ),
    scope="all",
    on_unknown="deny",
    types=(ECS_SERVICE,),
)
def _service_connect_logs(props: Mapping[str, Any]) -> Iterable[str]:
    # ECS adds the Service Connect proxy to each task; its logs are set on the service, since
    # the task definition does not list it.
    configuration = props.get("serviceConnectConfiguration") or {}
    if configuration.get("enabled") is True and not (
        configuration.get("logConfiguration") or {}
    ).get("logDriver"):
        yield (
            "Service Connect is on and its proxy has no logConfiguration.logDriver: set "
            "serviceConnectConfiguration.logConfiguration"
        )


@declare.resource(
    name="ecs-container-insights",
    ids="ECS.12",
    description="ECS clusters have Container Insights on.",
    how=(
        "The cluster sets `containerInsights` (config `cluster.containerInsights`, default "
        "enabled)."
    ),
    scope="all",
    on_unknown="deny",
    types=(CLUSTER,),
)
def _container_insights(props: Mapping[str, Any]) -> Iterable[str]:
    settings = {s.get("name"): s.get("value") for s in props.get("settings") or []}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        yield "Container Insights is off: set the containerInsights setting to enabled"


@declare.resource(
    name="ecs-non-root-user",
    ids="ECS.20",
    description=(
        "Containers run as a non-root user (a non-essential init container that only opens "
        "the /tmp volume is exempt)."
    ),
    how=("Containers run as the spec's uid (101 for the default image); production requires one."),
    scope="production",
    on_unknown="deny",
    types=(TASK_DEFINITION,),
)
def _non_root(props: Mapping[str, Any]) -> Iterable[str]:
    for container in _containers(props):
        if _is_tmp_preparation(container):
            continue
        user = container.get("user")
        if user is None or str(user) in ROOT_USERS:
            yield (
                f"container '{container.get('name')}' runs as root: set `user` to the "
                "non-root uid its image runs as"
            )


@declare.resource(
    name="ecs-separate-task-and-execution-roles",
    ids="CKV_AWS_249",
    description="A task definition's task role and execution role are different roles.",
    how="Each service has its own execution role and task role.",
    scope="all",
    # Role ARNs are unknown until the roles exist; `pulumi up` checks them.
    on_unknown="allow",
    types=(TASK_DEFINITION,),
)
def _separate_roles(props: Mapping[str, Any]) -> Iterable[str]:
    task_role, execution_role = props.get("taskRoleArn"), props.get("executionRoleArn")
    if task_role is not None and task_role == execution_role:
        yield "the task role and the execution role are the same role"


CONTROLS = declare.controls()
