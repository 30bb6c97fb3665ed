"""What a deploy policy is built from: the services a service stack runs and what they own,
read from the stack's rendering."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import naming
from offline.delivery.deploy_policy.arns import PLATFORM_KEY
from offline.delivery.deploy_policy.events import (
    EVENT_INPUTS,
    EVENT_TYPES,
    EventScope,
    event_scope,
)
from offline.render.harness import RecordedResource, Rendering, is_reference


@dataclass(frozen=True, kw_only=True)
class ServiceScope:
    """One service a service stack runs."""

    name: str
    """The ECS service's name."""
    family: str
    """Its task definition family."""
    task_roles: tuple[str, ...]
    """Logical names of the roles its task definition passes to ECS tasks (execution and task
    role); Pulumi names each role `<logical name>-<7 hex>`."""
    infrastructure_roles: tuple[str, ...] = ()
    """Logical names of the roles its ECS service passes to ECS (traffic shifting)."""
    attached_policies: tuple[tuple[str, str], ...] = ()
    """(role logical name, managed policy ARN) for each policy attached to one of its roles."""
    alarm_names: tuple[str, ...] = ()
    """Its CloudWatch alarms' names."""
    scales: bool = False
    """Whether it has an Application Auto Scaling target."""
    routed: bool = False
    """Behind the load balancer: its ECS service reads its production listener rule to register
    where the rule sends traffic (components/compute/ecs_service/)."""
    repositories: tuple[str, ...] = ()
    """Logical names of its ECR repositories; Pulumi names each `<logical name>-<7 hex>`."""
    lifecycle_repositories: tuple[str, ...] = ()
    """Those of them with a lifecycle policy."""
    pushed_repositories: tuple[str, ...] = ()
    """Those of them an image is built and pushed into (awsx.ecr.Image)."""
    kms_repositories: tuple[str, ...] = ()
    """Those of them encrypted with KMS (the AWS managed key for ECR, aws/ecr)."""
    tables: tuple[str, ...] = ()
    """Logical names of its DynamoDB tables; Pulumi names each `<logical name>-<7 hex>`."""
    keyed_tables: tuple[str, ...] = ()
    """Those of them encrypted with one of the service's own KMS keys."""
    keys: tuple[tuple[str, int], ...] = ()
    """(logical name, deletion window in days) of each KMS key it creates. KMS names a key by
    an id it assigns, so no ARN pattern tells one key from another."""
    key_policies: tuple[str, ...] = ()
    """Those of its keys created with a key policy of the program's (not KMS's default)."""
    events: EventScope = field(default_factory=EventScope)
    """Its relay (a publisher's) and its queues and subscriptions (a subscriber's)."""

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(
            sorted({*self.task_roles, *self.infrastructure_roles, *self.events.function_roles})
        )


@dataclass(frozen=True, kw_only=True)
class StackScope:
    project: str
    stack: str
    """The service stack."""
    platform_reference: str
    """`<org>/<project>/<stack>` of its platform."""
    region: str
    cluster_name: str
    services: tuple[ServiceScope, ...]

    @property
    def platform_stack(self) -> str:
        return self.platform_reference.rsplit("/", 1)[-1]

    @property
    def partition(self) -> str:
        return partition_of(self.region)


class NotAServiceStackError(ValueError):
    """deploy-policy was asked about a stack that is not a service stack."""


def partition_of(region: str) -> str:
    """The ARN partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


SERVICE_TYPE = "aws:ecs/service:Service"
TASK_DEFINITION_TYPE = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_TYPE = "aws:iam/role:Role"
ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT_TYPE = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SCALING_TARGET_TYPE = "aws:appautoscaling/target:Target"
SCALING_POLICY_TYPE = "aws:appautoscaling/policy:Policy"
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
REPOSITORY_TYPE = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY_TYPE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
TABLE_TYPE = "aws:dynamodb/table:Table"
KEY_TYPE = "aws:kms/key:Key"
IMAGE_TYPE = "awsx:ecr:Image"
COVERED_TYPES = frozenset(
    {
        SERVICE_TYPE,
        TASK_DEFINITION_TYPE,
        ROLE_TYPE,
        ROLE_POLICY_TYPE,
        ROLE_POLICY_ATTACHMENT_TYPE,
        SCALING_TARGET_TYPE,
        SCALING_POLICY_TYPE,
        ALARM_TYPE,
        REPOSITORY_TYPE,
        LIFECYCLE_POLICY_TYPE,
        TABLE_TYPE,
        KEY_TYPE,
        *EVENT_TYPES,
    }
)
"""The resource types a service stack may register that the policy has permissions for."""
COVERED_COMPONENT_TYPES = frozenset({IMAGE_TYPE})
"""Components of other packages the policy has permissions for. Their children are registered
by the package's provider, out of the offline harness's sight, so each needs its calls listed
here (awsx.ecr.Image: a docker-build image pushed with an ECR token)."""
OWN_PACKAGES = frozenset({"pulumi"})
"""Packages whose components register nothing themselves, besides the project's own."""

SUPPORTED_INPUTS: Mapping[str, frozenset[str]] = {
    # What the permissions below were chosen for, input by input (the provider calls more for
    # others: a stream, TTL, replicas, a key policy, a customer managed key for a repository,
    # another registry to cache from). Anything else stops the command, as an unknown type does.
    REPOSITORY_TYPE: frozenset(
        {
            "encryptionConfigurations",
            "forceDelete",
            "imageScanningConfiguration",
            "imageTagMutability",
            "tags",
        }
    ),
    LIFECYCLE_POLICY_TYPE: frozenset({"policy", "repository"}),
    TABLE_TYPE: frozenset(
        {
            "attributes",
            "billingMode",
            "deletionProtectionEnabled",
            "hashKey",
            "pointInTimeRecovery",
            "rangeKey",
            "serverSideEncryption",
            "streamEnabled",
            "streamViewType",
            "tags",
        }
    ),
    KEY_TYPE: frozenset(
        {"deletionWindowInDays", "description", "enableKeyRotation", "policy", "tags"}
    ),
    IMAGE_TYPE: frozenset(
        {"args", "context", "dockerfile", "imageName", "imageTag", "platform", "repositoryUrl"}
    ),
    **EVENT_INPUTS,
}
CLUSTER_ARN = re.compile(r"^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:cluster/(?P<name>[A-Za-z0-9_-]+)$")
SCALING_RESOURCE_ID = re.compile(r"^service/(?P<cluster>[^/]+)/(?P<service>[^/]+)$")
REFERENCE = re.compile(r"^\$\{(?P<name>[^.}]+)\.(?P<attribute>[^}]+)\}$")
PARTITION_REFERENCE = "${aws.partition}"


def platform_reference(config: Mapping[str, str], project: str) -> str | None:
    value = config.get(f"{project}:{PLATFORM_KEY}")
    return value if isinstance(value, str) and value.count("/") == 2 else None


def _literal(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or is_reference(value):
        raise ValueError(f"{what} is not known before deploy ({value!r})")
    return value


def _referenced(
    value: Any, attribute: str, candidates: Iterable[str], what: str, kind: str = "roles"
) -> str:
    """The logical name of the stack's own resource that `value` reads `attribute` of."""
    found = REFERENCE.match(value) if isinstance(value, str) else None
    if found is None or found["attribute"] != attribute or found["name"] not in set(candidates):
        raise ValueError(f"{what} is not one of the stack's own {kind} ({value!r})")
    return found["name"]


def _cluster_name(
    service: str,
    cluster_input: Any,
    targets: Iterable[dict[str, Any]],
    default: str,
) -> str:
    """The cluster the service runs in: its scaling target's resource id carries the name the
    platform exported; a literal cluster ARN carries it too; the platform names its cluster
    naming.cluster_name(project, stack) otherwise."""
    for inputs in targets:
        found = SCALING_RESOURCE_ID.match(str(inputs.get("resourceId", "")))
        if found and found["service"] == service:
            return found["cluster"]
    found = CLUSTER_ARN.match(cluster_input) if isinstance(cluster_input, str) else None
    return found["name"] if found else default


def _supported(resource: RecordedResource) -> None:
    """Refuses inputs the permissions were not chosen for (SUPPORTED_INPUTS)."""
    supported = SUPPORTED_INPUTS.get(resource.type)
    unsupported = sorted(set(resource.inputs) - supported) if supported is not None else []
    if unsupported:
        raise ValueError(
            f"{resource.name} ({resource.type}) sets {', '.join(unsupported)}, for which "
            "deploy-policy has no permissions yet: add them to offline/delivery/deploy_policy/"
        )


def _autonamed(resource: RecordedResource) -> str:
    """The logical name of a resource Pulumi names `<logical name>-<7 hex>`."""
    if resource.inputs.get("name") is not None:
        raise ValueError(f"{resource.name} sets its name: deploy-policy expects it auto-named")
    return resource.name


def _image_scope(name: str, members: Sequence[RecordedResource]) -> dict[str, tuple[str, ...]]:
    """A service's repositories, their lifecycle policies and the images pushed into them."""
    repositories = {r.urn: r for r in members if r.type == REPOSITORY_TYPE}
    names = [_autonamed(r) for r in repositories.values()]
    kms = set()
    for repository in repositories.values():
        _supported(repository)
        for encryption in repository.inputs.get("encryptionConfigurations") or []:
            # AES256, or KMS with the AWS managed key; a key of the caller's own (kmsKey) needs
            # CreateGrant and DescribeKey on it too (ECR user guide, encryption-at-rest).
            kind, key = encryption.get("encryptionType", "AES256"), encryption.get("kmsKey")
            if kind not in ("AES256", "KMS") or key is not None:
                raise ValueError(
                    f"{repository.name} is encrypted with {kind}{f' key {key}' if key else ''}, "
                    "for which deploy-policy has no permissions yet: add them to "
                    "offline/delivery/deploy_policy/"
                )
            if kind == "KMS":
                kms.add(repository.name)
    lifecycle = set()
    for policy in (r for r in members if r.type == LIFECYCLE_POLICY_TYPE):
        _supported(policy)
        what = f"the repository of {name}'s {policy.name}"
        lifecycle.add(
            _referenced(policy.inputs.get("repository"), "name", names, what, "repositories")
        )
    pushed = set()
    for image in (r for r in members if r.type == IMAGE_TYPE):
        _supported(image)
        # The repository URL is known after deploy only; its dependency says whose it is.
        sources = image.property_dependencies.get("repositoryUrl", ())
        if len(sources) != 1 or sources[0] not in repositories:
            raise ValueError(f"{name}'s {image.name} pushes to no repository of {name}")
        pushed.add(repositories[sources[0]].name)
    return {
        "repositories": tuple(sorted(names)),
        "lifecycle_repositories": tuple(sorted(lifecycle)),
        "pushed_repositories": tuple(sorted(pushed)),
        "kms_repositories": tuple(sorted(kms)),
    }


def _table_scope(name: str, members: Sequence[RecordedResource]) -> dict[str, Any]:
    """A service's tables and the KMS keys it creates for them."""
    keys, policies = [], []
    for key in (r for r in members if r.type == KEY_TYPE):
        _supported(key)
        window = key.inputs.get("deletionWindowInDays")
        if not isinstance(window, int) or isinstance(window, bool):
            # ScheduleKeyDeletion is allowed only with at least the program's waiting period.
            raise ValueError(f"{name}'s {key.name} sets no deletionWindowInDays")
        keys.append((key.name, window))
        if key.inputs.get("policy") is not None:
            policies.append(key.name)
    tables, keyed = [], []
    for table in (r for r in members if r.type == TABLE_TYPE):
        tables.append(_autonamed(table))
        _supported(table)
        encryption = table.inputs.get("serverSideEncryption") or {}
        if encryption.get("enabled") and encryption.get("kmsKeyArn") is not None:
            # Without kmsKeyArn, the AWS managed key for DynamoDB, whose key policy lets the
            # account's principals use it through DynamoDB (DynamoDB encryption.usagenotes).
            what = f"the key of {name}'s {table.name}"
            _referenced(encryption["kmsKeyArn"], "arn", [k for k, _ in keys], what, "keys")
            keyed.append(table.name)
    return {
        "tables": tuple(sorted(tables)),
        "keyed_tables": tuple(sorted(keyed)),
        "keys": tuple(sorted(keys)),
        "key_policies": tuple(sorted(policies)),
    }


def _service_scope(
    ecs_service: RecordedResource,
    members: Sequence[RecordedResource],
    partition: str,
    platform: Rendering | None = None,
) -> ServiceScope:
    """`members`: every resource of the service's component, its children's too."""
    name = _literal(ecs_service.inputs.get("name"), "an ECS service's name")
    roles = [r.name for r in members if r.type == ROLE_TYPE]
    tasks = [r for r in members if r.type == TASK_DEFINITION_TYPE]
    if len(tasks) != 1:
        raise ValueError(f"ECS service {name} has {len(tasks)} task definitions, not 1")
    task = tasks[0].inputs
    task_roles = {
        _referenced(task[key], "arn", roles, f"{name}'s task definition {key}")
        for key in ("executionRoleArn", "taskRoleArn")
        if task.get(key) is not None
    }
    infrastructure_roles = {
        _referenced(advanced["roleArn"], "arn", roles, f"{name}'s load balancer roleArn")
        for balancer in ecs_service.inputs.get("loadBalancers") or []
        if (advanced := balancer.get("advancedConfiguration")) and advanced.get("roleArn")
    }
    events = EventScope(**event_scope(name, members, platform, _supported))
    unpassed = set(roles) - task_roles - infrastructure_roles - set(events.function_roles)
    if unpassed:
        raise ValueError(f"roles of {name} that nothing passes: {sorted(unpassed)}")
    attached = set()
    for attachment in (r for r in members if r.type == ROLE_POLICY_ATTACHMENT_TYPE):
        role = _referenced(attachment.inputs.get("role"), "name", roles, "a policy attachment")
        policy = str(attachment.inputs.get("policyArn", "")).replace(PARTITION_REFERENCE, partition)
        attached.add((role, _literal(policy, f"the policy attached to {role}")))
    return ServiceScope(
        name=name,
        family=_literal(task.get("family"), f"{name}'s task definition family"),
        task_roles=tuple(sorted(task_roles)),
        infrastructure_roles=tuple(sorted(infrastructure_roles)),
        attached_policies=tuple(sorted(attached)),
        alarm_names=tuple(
            sorted(
                _literal(r.inputs.get("name"), f"the name of {r.name}")
                for r in members
                if r.type == ALARM_TYPE
            )
        ),
        scales=any(r.type == SCALING_TARGET_TYPE for r in members),
        routed=bool(ecs_service.inputs.get("loadBalancers")),
        **_image_scope(name, members),
        **_table_scope(name, members),
        events=events,
    )


def _members(
    component: str | None, resources: Sequence[RecordedResource], parents: Mapping[str, str | None]
) -> list[RecordedResource]:
    """Those of `resources` registered under `component` (its children, theirs, and so on;
    `parents`: every recorded resource's parent); for None, the stack's own children only."""
    if component is None:
        return [r for r in resources if r.parent is None]
    found = []
    for resource in resources:
        parent = resource.parent
        while parent is not None and parent != component:
            parent = parents.get(parent)
        if parent is not None:
            found.append(resource)
    return found


def scope_from_rendering(rendering: Rendering) -> StackScope:
    """What the policy needs, from a service stack's recorded resources. Refuses a stack that
    registers a resource the policy has no permissions for."""
    reference = platform_reference(rendering.config, rendering.project)
    if reference is None:
        raise NotAServiceStackError(
            f"'{rendering.stack}' is not a service stack: it has no "
            f"{rendering.project}:{PLATFORM_KEY} key"
        )
    region = rendering.config.get("aws:region")
    if not region:
        raise ValueError(f"stack '{rendering.stack}' sets no aws:region")
    custom = [r for r in rendering.resources if r.custom]
    unknown = sorted({r.type for r in custom if r.type not in COVERED_TYPES})
    own = {rendering.project, *OWN_PACKAGES}
    unknown += sorted(
        {
            r.type
            for r in rendering.resources
            if not r.custom
            and r.type.split(":", 1)[0] not in own
            and r.type not in COVERED_COMPONENT_TYPES
        }
    )
    if unknown:
        raise ValueError(
            f"'{rendering.stack}' registers {', '.join(unknown)}, for which deploy-policy has no "
            "permissions yet: add them to offline/delivery/deploy_policy/"
        )
    # What registers something in AWS: custom resources and the components of other packages.
    acting = [r for r in rendering.resources if r.custom or r.type in COVERED_COMPONENT_TYPES]
    parents = {r.urn: r.parent for r in rendering.resources}
    platform_stack = reference.rsplit("/", 1)[-1]
    default_cluster = naming.cluster_name(rendering.project, platform_stack)
    partition = partition_of(region)
    services: list[ServiceScope] = []
    clusters: set[str] = set()
    covered: set[str] = set()
    for ecs_service in rendering.of_type(SERVICE_TYPE):
        members = _members(ecs_service.parent, acting, parents)
        covered.update(r.urn for r in members)
        service = _service_scope(ecs_service, members, partition, rendering.platform)
        targets = [r.inputs for r in members if r.type == SCALING_TARGET_TYPE]
        clusters.add(
            _cluster_name(service.name, ecs_service.inputs.get("cluster"), targets, default_cluster)
        )
        services.append(service)
    if not services:
        raise ValueError(f"service stack '{rendering.stack}' runs no ECS service")
    outside = sorted(r.name for r in acting if r.urn not in covered)
    if outside:
        raise ValueError(f"'{rendering.stack}' registers resources outside a service: {outside}")
    if len(clusters) != 1:
        raise ValueError(f"the services of '{rendering.stack}' run in several clusters: {clusters}")
    return StackScope(
        project=rendering.project,
        stack=rendering.stack,
        platform_reference=reference,
        region=region,
        cluster_name=clusters.pop(),
        services=tuple(sorted(services, key=lambda s: s.name)),
    )
