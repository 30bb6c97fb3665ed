"""`python -m offline deploy-policy`: the policy of a service stack's deploy role grants what
that stack's `pulumi up` and `pulumi destroy` need, on that stack's services, and nothing on
another service's resources.

The properties are checked on the split prod stacks as the catalog has them, with no service
building or owning a table, and with every service building its image and user-service and
order-service owning tables (ECR repositories, lifecycle policies, awsx images, DynamoDB tables
and their KMS keys).

Resource patterns are matched with fnmatch's `*` and `?`, a superset of IAM's matching: IAM's
`*` stays within a colon-separated ARN segment unless it ends the segment, fnmatch's never
does. So a pattern fnmatch finds no match for grants nothing there in IAM either.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

import components.service_runtime
import config.rules.catalog
import naming
import offline.delivery.deploy_policy.scope
from offline.__main__ import main
from offline.delivery.deploy_policy import (
    ACCOUNT_PLACEHOLDER,
    BROAD_KEY_ACTIONS,
    CONDITION_KEYS,
    COVERED_COMPONENT_TYPES,
    COVERED_TYPES,
    GLOBAL_CONDITION_KEYS,
    RESOURCE_TYPES,
    NotAServiceStackError,
    ServiceScope,
    StackScope,
    alarm_arn,
    broad_key_notes,
    build_policy,
    dumps,
    ecs_service_arn,
    log_group_arn,
    partition_of,
    policy_for_stack,
    repository_arn,
    role_arn,
    s3_object_arn,
    scope_from_rendering,
    state_file,
    table_arn,
    task_definition_arn,
)
from offline.delivery.deploy_policy.command import ROLE_INLINE_POLICY_MAX_CHARACTERS, size_note
from offline.delivery.deploy_policy.events import EventScope
from offline.render.environments import environment_document
from offline.render.harness import RecordedResource, Rendering, render
from services import CATALOG
from services.spec import ServiceSpec
from tests.split import SplitProject, split

ACCOUNT = "123456789012"
BUCKET = "acme-pulumi-state"
ROLE_POLICY_MAX_CHARACTERS = ROLE_INLINE_POLICY_MAX_CHARACTERS

Policy = dict[str, Any]


TABLE_OWNERS = ("user-service", "order-service")
VARIANTS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "as the catalog has them": {},
    "nothing built, no table": {
        name: {"build": None, "table": False, "publishes": (), "subscribes": ()} for name in CATALOG
    },
    "all built, two tables": {
        name: {"build": f"apps/{name}", "table": name in TABLE_OWNERS} for name in CATALOG
    },
}
"""Changes to the catalog's specs (dataclasses.replace), as a spec's `build=` and `table=`."""
BUILT = "all built, two tables"

Policies = dict[str, tuple[Policy, StackScope]]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> SplitProject:
    return split(tmp_path_factory.mktemp("deploy-policy") / "project")


def specs(variant: str) -> dict[str, ServiceSpec]:
    return {
        name: dataclasses.replace(spec, **VARIANTS[variant].get(name, {}))
        for name, spec in CATALOG.items()
    }


def use_variant(mp: pytest.MonkeyPatch, variant: str, root: Path) -> None:
    """The catalog of `variant`, built from a project root in `root` that holds an app for
    each service that builds, beside the shared Dockerfile and service-kit (the harness renders
    in this process: monkeypatching works)."""
    changed = specs(variant)
    if not VARIANTS[variant]:
        return
    for name, spec in changed.items():
        if spec.build is not None:
            app = root / spec.build
            (app / "package").mkdir(parents=True, exist_ok=True)
            (app / "package" / "__main__.py").write_text("")
            (app / "requirements.txt").write_text("")
            (app.parent / "service-kit").mkdir(exist_ok=True)
            (app.parent / "Dockerfile").write_text("FROM scratch\n")
        mp.setitem(CATALOG, name, spec)
    mp.setattr(components.service_runtime, "PROJECT_ROOT", root)
    mp.setattr(config.rules.catalog, "PROJECT_ROOT", root)


def policies_of(project: SplitProject) -> Policies:
    """Service name -> the policy of its service stack, and the scope it was built from."""
    return {
        service: policy_for_stack(stack, project.directory, account=ACCOUNT, state_bucket=BUCKET)
        for service, stack in project.service_stacks.items()
    }


@pytest.fixture(scope="module")
def policies(project: SplitProject) -> Policies:
    """The policies of the service stacks as the catalog has them."""
    return policies_of(project)


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(
    request: pytest.FixtureRequest,
    project: SplitProject,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Policies]:
    """(variant, its policies), for each variant of the catalog."""
    name: str = request.param
    if not VARIANTS[name]:
        return name, request.getfixturevalue("policies")
    with pytest.MonkeyPatch.context() as mp:
        use_variant(mp, name, tmp_path_factory.mktemp("root"))
        return name, policies_of(project)


@pytest.fixture
def variant_policies(variant: tuple[str, Policies]) -> Policies:
    return variant[1]


@pytest.fixture(scope="module")
def built(project: SplitProject, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    """Service name -> the rendering of its service stack, all built, two with tables."""
    with pytest.MonkeyPatch.context() as mp:
        use_variant(mp, BUILT, tmp_path_factory.mktemp("root"))
        return {
            service: render(stack, project_dir=project.directory)
            for service, stack in project.service_stacks.items()
        }


# --- helpers -----------------------------------------------------------------------------


def statements(policy: Policy) -> list[dict[str, Any]]:
    return policy["Statement"]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def matches(pattern: str, arn: str) -> bool:
    assert "[" not in pattern, f"{pattern}: fnmatch would read [ as a character class"
    return fnmatchcase(arn, pattern)


def scoped_grants(policy: Policy, arn: str) -> list[tuple[str, str]]:
    """(Sid, pattern) of every statement whose ARN patterns (not `*`) cover `arn`."""
    return [
        (statement["Sid"], pattern)
        for statement in statements(policy)
        if statement["Resource"] != "*"
        for pattern in listed(statement["Resource"])
        if matches(pattern, arn)
    ]


def granted(policy: Policy, action: str, arn: str) -> bool:
    """Whether some statement allows `action` on `arn`, conditions aside."""
    return any(
        action in statement["Action"]
        and (
            statement["Resource"] == "*"
            or any(matches(pattern, arn) for pattern in listed(statement["Resource"]))
        )
        for statement in statements(policy)
    )


def resources_of(project: str, platform: str, service: str, stack: str) -> dict[str, str]:
    """Concrete ARNs of one service's resources, named as the program names them."""
    region, partition = "us-east-1", "aws"
    cluster = naming.cluster_name(project, platform)
    component = naming.service_component(naming.platform(platform), service)
    log_group = log_group_arn(
        partition, region, ACCOUNT, naming.log_group(project, platform, service)
    )
    return {
        "ecs service": ecs_service_arn(partition, region, ACCOUNT, cluster, service),
        "service deployment": f"arn:aws:ecs:{region}:{ACCOUNT}:service-deployment/"
        f"{cluster}/{service}/aBcD1234",
        "task definition": task_definition_arn(
            partition, region, ACCOUNT, naming.task_family(project, platform, service), "7"
        ),
        "execution role": role_arn(partition, ACCOUNT, f"{component}-execution-role-0a1b2c3"),
        "task role": role_arn(partition, ACCOUNT, f"{component}-task-role-4d5e6f7"),
        "infrastructure role": role_arn(
            partition, ACCOUNT, f"{component}-infrastructure-role-8a9b0c1"
        ),
        "log group": log_group,
        "log stream": f"{log_group}:log-stream:{service}/{service}/abc",
        "repository": repository_arn(
            partition, region, ACCOUNT, f"{component}-image-repository-9f8e7d6"
        ),
        "table": table_arn(partition, region, ACCOUNT, f"{component}-data-table-5c4b3a2"),
        "relay function": f"arn:aws:lambda:{region}:{ACCOUNT}:function:"
        + naming.relay_function(project, platform, service),
        "relay role": role_arn(partition, ACCOUNT, f"{component}-relay-role-1a2b3c4"),
        "events queue": f"arn:aws:sqs:{region}:{ACCOUNT}:"
        + naming.events_queue(project, platform, service),
        "events dead-letter queue": f"arn:aws:sqs:{region}:{ACCOUNT}:"
        + naming.events_dead_letter_queue(project, platform, service),
        "state": s3_object_arn(partition, BUCKET, state_file(project, stack)),
        "lock": s3_object_arn(
            partition, BUCKET, f".pulumi/locks/organization/{project}/{stack}/1.json"
        ),
    }


def other_services(project: SplitProject, service: str) -> Iterator[tuple[str, str]]:
    for other, stack in project.service_stacks.items():
        if other != service:
            yield other, stack


# --- (a) every action is one the reference lists, scoped as it allows ---------------------


def test_every_action_is_in_the_cited_allow_list(
    variant_policies: Policies,
) -> None:
    for policy, _ in variant_policies.values():
        assert policy["Version"] == "2012-10-17"
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert "*" not in action and "?" not in action, action
                assert action in RESOURCE_TYPES, f"{action} is not in the allow-list"


def test_star_resources_only_for_actions_without_resource_level_permissions(
    variant_policies: Policies,
) -> None:
    for policy, _ in variant_policies.values():
        for statement in statements(policy):
            unscoped = [a for a in statement["Action"] if not RESOURCE_TYPES[a]]
            if statement["Resource"] == "*":
                assert unscoped == statement["Action"], statement["Sid"]
            else:
                assert unscoped == [], statement["Sid"]
                assert all(r.startswith("arn:aws:") for r in statement["Resource"])


def test_conditions_use_only_keys_the_reference_gives_the_actions(
    variant_policies: Policies,
) -> None:
    for policy, _ in variant_policies.values():
        for statement in statements(policy):
            for operator, values in statement.get("Condition", {}).items():
                assert operator in {
                    "StringEquals",
                    "ArnEquals",
                    "ArnLikeIfExists",
                    "NumericGreaterThanOrEquals",
                }, operator
                for key in values:
                    for action in statement["Action"]:
                        allowed = CONDITION_KEYS.get(action, frozenset()) | GLOBAL_CONDITION_KEYS
                        assert key in allowed, f"{key} with {action}"


def test_sids_are_unique_and_valid_and_the_policy_fits_an_inline_role_policy(
    variant_policies: Policies,
) -> None:
    for policy, _ in variant_policies.values():
        sids = [statement["Sid"] for statement in statements(policy)]
        assert len(sids) == len(set(sids))
        assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
        characters = len("".join(json.dumps(policy).split()))
        assert characters <= ROLE_POLICY_MAX_CHARACTERS


def test_patterns_name_the_stack_or_are_the_documented_account_wide_ones(
    variant_policies: Policies,
) -> None:
    """Every ARN pattern names this stack's service, family, roles, alarms, repositories,
    tables or state, except those whose resource ids no stack controls (scalable targets, KMS
    keys), those Application Auto Scaling checks without naming a resource (alarms), the bucket
    itself, the backend's metadata and the platform's state (read only)."""
    for service, (policy, scope) in variant_policies.items():
        component = naming.service_component(naming.platform(scope.platform_stack), service)
        own = (
            f"/{service}",
            f"task-definition/{naming.task_family(scope.project, scope.platform_stack, service)}:",
            f"role/{scope.platform_stack}-{service}-",
            f":repository/{component}-",
            f":table/{component}-",
            f":alarm:{naming.alarm_prefix(scope.project, scope.platform_stack, service)}-",
            f"/{scope.stack}.",
            f"/{scope.stack}/",
            # A relay's function, a subscriber's queues (names are the account's).
            f":function:{naming.relay_function(scope.project, scope.platform_stack, service)}",
            f":sqs:us-east-1:{ACCOUNT}:{scope.project}-{scope.platform_stack}-{service}-",
        )
        (own_service,) = scope.services
        # The platform's topics it subscribes to, and its subscriptions to them.
        topics = {
            f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic}{suffix}"
            for topic in own_service.events.topics
            for suffix in ("", ":*")
        }
        account_wide = {
            *topics,
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:*",
            f"arn:aws:application-autoscaling:us-east-1:{ACCOUNT}:scalable-target/*",
            f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.application-autoscaling."
            "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService",
            f"arn:aws:s3:::{BUCKET}",
            f"arn:aws:s3:::{BUCKET}/.pulumi/meta.yaml",
            f"arn:aws:s3:::{BUCKET}/{state_file(scope.project, scope.platform_stack)}*",
        }
        for statement in statements(policy):
            if statement["Resource"] == "*":
                continue
            for pattern in statement["Resource"]:
                assert pattern in account_wide or any(part in pattern for part in own), pattern


# --- (b) nothing on another service's resources, everything on its own --------------------


def test_no_pattern_covers_another_services_resources(
    project: SplitProject, variant_policies: Policies
) -> None:
    for service, (policy, scope) in variant_policies.items():
        for other, other_stack in other_services(project, service):
            for kind, arn in resources_of(
                scope.project, scope.platform_stack, other, other_stack
            ).items():
                assert scoped_grants(policy, arn) == [], f"{scope.stack} on {other}'s {kind}"


def test_other_services_alarms_only_through_application_auto_scalings_check(
    project: SplitProject, variant_policies: Policies
) -> None:
    """Application Auto Scaling checks the caller's alarm permissions with calls that name no
    alarm, so a stack that scales gets put, describe and delete on every alarm of the region;
    nothing else (no tagging, no other statement) reaches another service's alarms."""
    for service, (policy, scope) in variant_policies.items():
        for other, _ in other_services(project, service):
            prefix = naming.alarm_prefix(scope.project, scope.platform_stack, other)
            arn = alarm_arn("aws", "us-east-1", ACCOUNT, f"{prefix}-cpu-high")
            grants = scoped_grants(policy, arn)
            assert {sid for sid, _ in grants} <= {"AlarmPermissionsApplicationAutoScalingChecks"}
            for action in ("cloudwatch:TagResource", "cloudwatch:UntagResource"):
                assert not granted(policy, action, arn)


def test_no_pattern_covers_the_platforms_resources_or_writes_its_state(
    project: SplitProject, variant_policies: Policies
) -> None:
    for policy, scope in variant_policies.values():
        cluster = naming.cluster_name(scope.project, scope.platform_stack)
        assert scoped_grants(policy, f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{cluster}") == []
        platform_state = s3_object_arn("aws", BUCKET, state_file(scope.project, project.platform))
        assert granted(policy, "s3:GetObject", platform_state)
        for action in ("s3:PutObject", "s3:DeleteObject"):
            assert not granted(policy, action, platform_state)


def test_its_own_resources_are_covered(
    variant_policies: Policies,
) -> None:
    for service, (policy, scope) in variant_policies.items():
        own = resources_of(scope.project, scope.platform_stack, service, scope.stack)
        for action in (
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:DescribeServices",
            "ecs:TagResource",
        ):
            assert granted(policy, action, own["ecs service"]), action
        assert granted(policy, "ecs:DescribeServiceDeployments", own["service deployment"])
        for action in ("ecs:RegisterTaskDefinition", "ecs:TagResource"):
            assert granted(policy, action, own["task definition"]), action
        for role in ("execution role", "task role"):
            for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole", "iam:PassRole"):
                assert granted(policy, action, own[role]), (action, role)
        for key in ("state", "lock"):
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                assert granted(policy, action, own[key]), (action, key)
        (own_service,) = scope.services
        for alarm in own_service.alarm_names:
            arn = alarm_arn("aws", "us-east-1", ACCOUNT, alarm)
            for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"):
                assert granted(policy, action, arn), (action, alarm)
        if own_service.infrastructure_roles:
            for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole"):
                assert granted(policy, action, own["infrastructure role"]), action
        if own_service.repositories:
            for action in (
                "ecr:CreateRepository",
                "ecr:DescribeRepositories",
                "ecr:DeleteRepository",
                "ecr:TagResource",
                "ecr:PutLifecyclePolicy",
                "ecr:DeleteLifecyclePolicy",
                *PUSH_ACTIONS,
            ):
                assert granted(policy, action, own["repository"]), action
            assert granted(policy, "ecr:GetAuthorizationToken", "*")
        if own_service.tables:
            for action in (
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:UpdateTable",
                "dynamodb:DeleteTable",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:TagResource",
            ):
                assert granted(policy, action, own["table"]), action
        if own_service.keys:
            for action in ("kms:CreateKey", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion"):
                assert granted(policy, action, KEY), action
        assert granted(policy, "kms:PutKeyPolicy", KEY) is bool(own_service.key_policies)
        events = own_service.events
        if events.functions:
            for action in (
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:DeleteFunction",
                "lambda:TagResource",
            ):
                assert granted(policy, action, own["relay function"]), action
            for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PassRole"):
                assert granted(policy, action, own["relay role"]), action
        for kind in ("events queue", "events dead-letter queue"):
            for action in ("sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"):
                assert granted(policy, action, own[kind]) is bool(events.queues), (action, kind)


def test_no_log_permission_at_all(variant_policies: Policies) -> None:
    """The stack's log group belongs to the platform; the task definition only names it, and
    the ECS agent writes to it with the execution role. So the deployer needs no logs action,
    on its own log group or another's."""
    for policy, _ in variant_policies.values():
        actions = [a for statement in statements(policy) for a in statement["Action"]]
        assert not [a for a in actions if a.startswith("logs:")]


def test_services_run_only_their_stacks_task_definitions(
    variant_policies: Policies,
) -> None:
    for service, (policy, scope) in variant_policies.items():
        (run,) = [s for s in statements(policy) if "ecs:CreateService" in s["Action"]]
        family = naming.task_family(scope.project, scope.platform_stack, service)
        assert run["Condition"] == {
            "ArnLikeIfExists": {
                "ecs:task-definition": [
                    task_definition_arn("aws", "us-east-1", ACCOUNT, family),
                ]
            }
        }
        passes = {
            s["Condition"]["StringEquals"]["iam:PassedToService"]: s["Resource"]
            for s in statements(policy)
            if "iam:PassRole" in s["Action"]
        }
        (own,) = scope.services
        prefix = f"arn:aws:iam::{ACCOUNT}:role/"
        assert passes.pop("ecs-tasks.amazonaws.com") == [
            f"{prefix}{role}-???????" for role in own.task_roles
        ]
        # A publisher's relay role goes to Lambda, and to nothing else.
        assert passes.pop("lambda.amazonaws.com", []) == [
            f"{prefix}{role}-???????" for role in own.events.function_roles
        ]
        assert passes == (
            {"ecs.amazonaws.com": [f"{prefix}{r}-???????" for r in own.infrastructure_roles]}
            if own.infrastructure_roles
            else {}
        )


def test_the_scope_comes_from_the_rendered_service_stack(
    project: SplitProject, variant: tuple[str, Policies]
) -> None:
    name, policies = variant
    for service, (_, scope) in policies.items():
        assert scope.stack == project.service_stacks[service]
        assert scope.platform_stack == project.platform
        assert scope.cluster_name == naming.cluster_name(scope.project, project.platform)
        assert scope.region == "us-east-1"
        (own,) = scope.services
        component = naming.service_component(naming.platform(project.platform), service)
        assert own.name == service
        assert own.family == naming.task_family(scope.project, project.platform, service)
        assert own.task_roles == (f"{component}-execution-role", f"{component}-task-role")
        assert set(own.infrastructure_roles) <= {f"{component}-infrastructure-role"}
        assert {role for role, _ in own.attached_policies} == set(own.infrastructure_roles)
        prefix = naming.alarm_prefix(scope.project, project.platform, service)
        assert own.alarm_names and all(a.startswith(f"{prefix}-") for a in own.alarm_names)
        # It may scale its service exactly when its stack file gives the service a band.
        settings = environment_document(project.platform).get("microservices:services") or {}
        assert own.scales == ("autoscaling" in (settings.get(service) or {})), service
        # prod is a production environment: KMS for the repository, a key of its own for the
        # table.
        spec = specs(name)[service]
        repositories = (f"{component}-image-repository",) if spec.build else ()
        assert own.repositories == repositories
        assert own.lifecycle_repositories == own.pushed_repositories == repositories
        assert own.kms_repositories == repositories
        tables = (f"{component}-data-table",) if spec.table else ()
        assert own.tables == own.keyed_tables == tables
        assert own.keys == (((f"{component}-data-key", 30),) if spec.table else ())
        assert set(own.key_policies) <= {key for key, _ in own.keys}


def test_the_variants_render_what_they_say(variant: tuple[str, Policies]) -> None:
    """The catalog the variants were rendered with: the built one has repositories and two
    tables, the plain one none."""
    name, policies = variant
    repositories = [r for _, scope in policies.values() for r in scope.services[0].repositories]
    tables = [t for _, scope in policies.values() for t in scope.services[0].tables]
    if name == BUILT:
        assert len(repositories) == len(CATALOG) and len(tables) == len(TABLE_OWNERS)
    if name == "nothing built, no table":
        assert repositories == tables == []


# --- (c) the new resource types: covered, and refused when their inputs are not ----------

PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
"""Any KMS key of the account and region: KMS names keys by ids it assigns."""
KEY_STATEMENTS = {
    "ManageKeys",
    "SetKeyPolicies",
    "ScheduleDeletionOfKeys",
    "LetDynamoDbUseKeysForThisStacksTables",
    "RetireGrantsOfDeletedRepositories",
}


def test_the_new_types_are_covered_and_render_as_a_service_builds_and_owns_a_table(
    built: dict[str, Rendering],
) -> None:
    types = {r.type for rendering in built.values() for r in rendering.resources}
    for type_ in (
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:iam/rolePolicy:RolePolicy",
    ):
        assert type_ in types and type_ in COVERED_TYPES, type_
    assert "awsx:ecr:Image" in types and "awsx:ecr:Image" in COVERED_COMPONENT_TYPES
    for service, rendering in built.items():
        scope = scope_from_rendering(rendering)
        component = naming.service_component(naming.platform(scope.platform_stack), service)
        assert scope.services[0].pushed_repositories == (f"{component}-image-repository",)


def test_a_stack_whose_table_the_policy_does_not_cover_exits_2(
    project: SplitProject,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command refuses a resource type it has no permissions for: here DynamoDB tables,
    taken out of the covered types, in the stack of a service that owns one."""
    use_variant(monkeypatch, BUILT, tmp_path)
    monkeypatch.setattr(
        offline.delivery.deploy_policy.scope,
        "COVERED_TYPES",
        COVERED_TYPES - {"aws:dynamodb/table:Table"},
    )
    monkeypatch.chdir(project.directory)
    assert main(["deploy-policy", "--stack", project.service_stacks["user-service"]]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: '{project.service_stacks['user-service']}' registers aws:dynamodb/table:Table, "
        "for which deploy-policy has no permissions yet: add them to "
        "offline/delivery/deploy_policy/\n"
    )
    # Without a table, the same stack needs no such permission.
    assert main(["deploy-policy", "--stack", project.service_stacks["api-gateway"]]) == 0


def changed(rendering: Rendering, name: str, **changes: Any) -> Rendering:
    """`rendering` with the resource `name` changed (inputs merged, other fields replaced)."""
    fields = {key: value for key, value in changes.items() if key != "inputs"}
    resources: list[RecordedResource] = []
    for resource in rendering.resources:
        if resource.name == name:
            inputs = {**resource.inputs, **changes.get("inputs", {})}
            resource = dataclasses.replace(resource, inputs=inputs, **fields)
        resources.append(resource)
    assert len(resources) == len(rendering.resources)
    return dataclasses.replace(rendering, resources=resources)


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        (
            "prod-user-service-image-repository",
            {"inputs": {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "k"}]}},
            "prod-user-service-image-repository is encrypted with KMS key k, for which",
        ),
        (
            "prod-user-service-image-repository",
            {"inputs": {"name": "users"}},
            "prod-user-service-image-repository sets its name",
        ),
        (
            "prod-user-service-data-table",
            {"inputs": {"ttl": {"enabled": True, "attributeName": "expires"}}},
            "prod-user-service-data-table (aws:dynamodb/table:Table) sets ttl",
        ),
        (
            "prod-user-service-data-table",
            {"inputs": {"serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:x"}}},
            "the key of user-service's prod-user-service-data-table is not one of the stack's "
            "own keys",
        ),
        (
            "prod-user-service-data-key",
            {"inputs": {"multiRegion": True}},
            "prod-user-service-data-key (aws:kms/key:Key) sets multiRegion",
        ),
        (
            "prod-user-service-data-key",
            {"inputs": {"deletionWindowInDays": None}},
            "user-service's prod-user-service-data-key sets no deletionWindowInDays",
        ),
        (
            "prod-user-service-image-image",
            {"property_dependencies": {"repositoryUrl": ()}},
            "user-service's prod-user-service-image-image pushes to no repository",
        ),
        (
            "prod-user-service-image-image",
            {"inputs": {"cacheFrom": ["elsewhere"]}},
            "prod-user-service-image-image (awsx:ecr:Image) sets cacheFrom",
        ),
        (
            "prod-user-service-image-repository-lifecycle",
            {"inputs": {"repository": "${prod-order-service-image-repository.name}"}},
            "is not one of the stack's own repositories",
        ),
        (
            "prod-user-service-image-image",
            {"type": "awsx:ecr:Repository"},
            "registers awsx:ecr:Repository, for which deploy-policy has no permissions yet",
        ),
    ],
)
def test_inputs_the_policy_was_not_chosen_for_are_refused(
    built: dict[str, Rendering], name: str, changes: dict[str, Any], message: str
) -> None:
    rendering = changed(built["user-service"], name, **changes)
    with pytest.raises(ValueError, match=re.escape(message)):
        scope_from_rendering(rendering)


def test_other_services_keys_only_through_the_account_wide_key_statements(
    variant_policies: Policies,
) -> None:
    """KMS names keys by ids it assigns, so no pattern tells one service's table key from
    another's: a stack with a key reaches every key of the region through these statements
    only; deletion only with the program's 30-day waiting period, grants only through
    DynamoDB and ECR, creation only of symmetric encryption keys."""
    for policy, scope in variant_policies.values():
        own = scope.services[0]
        sids = {sid for sid, _ in scoped_grants(policy, KEY)}
        assert sids <= KEY_STATEMENTS
        assert bool(sids) == bool(own.keys or own.kms_repositories)
        by_sid = {s["Sid"]: s for s in statements(policy)}
        if own.keys:
            assert by_sid["ScheduleDeletionOfKeys"]["Condition"] == {
                "NumericGreaterThanOrEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}
            }
            assert by_sid["CreateKeys"]["Condition"]["StringEquals"] == {
                "aws:RequestedRegion": "us-east-1",
                "kms:KeySpec": "SYMMETRIC_DEFAULT",
                "kms:KeyUsage": "ENCRYPT_DECRYPT",
            }
            assert by_sid["LetDynamoDbUseKeysForThisStacksTables"]["Condition"] == {
                "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
            }
        if own.kms_repositories:
            assert by_sid["RetireGrantsOfDeletedRepositories"]["Condition"] == {
                "StringEquals": {"kms:ViaService": "ecr.us-east-1.amazonaws.com"}
            }
        for sid in sids:
            grants = set(by_sid[sid]["Action"])
            unconditioned = {
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:ListResourceTags",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:PutKeyPolicy",
            }
            assert "Condition" in by_sid[sid] or grants <= unconditioned, sid


def test_only_its_own_repository_is_pushed_to_and_only_its_own_table_managed(
    project: SplitProject, variant_policies: Policies
) -> None:
    """The push and table actions, action by action, on another service's repository and
    table: none (the pattern check above, for the actions that matter most)."""
    for service, (policy, scope) in variant_policies.items():
        for other, other_stack in other_services(project, service):
            theirs = resources_of(scope.project, scope.platform_stack, other, other_stack)
            for action in (*PUSH_ACTIONS, "ecr:DeleteRepository", "ecr:PutLifecyclePolicy"):
                assert not granted(policy, action, theirs["repository"]), (service, action)
            for action in ("dynamodb:DeleteTable", "dynamodb:UpdateTable"):
                assert not granted(policy, action, theirs["table"]), (service, action)


# --- pure construction: names that share a prefix, no scaling, no bucket -------------------


def scope(stack: str, service: str, *, scales: bool = True, data: bool = False) -> StackScope:
    """A stack of one service; with `data`, it builds into a repository and owns a table."""
    repository = (f"prod-{service}-image-repository",) if data else ()
    table = (f"prod-{service}-data-table",) if data else ()
    return StackScope(
        project="microservices",
        stack=stack,
        platform_reference="acme/microservices/prod",
        region="eu-west-1",
        cluster_name="microservices-prod",
        services=(
            ServiceScope(
                name=service,
                family=f"microservices-prod-{service}",
                task_roles=(f"prod-{service}-execution-role", f"prod-{service}-task-role"),
                alarm_names=(f"microservices-prod-{service}-cpu-high",),
                scales=scales,
                repositories=repository,
                lifecycle_repositories=repository,
                pushed_repositories=repository,
                kms_repositories=repository,
                tables=table,
                keyed_tables=table,
                keys=((f"prod-{service}-data-key", 30),) if data else (),
                key_policies=(f"prod-{service}-data-key",) if data else (),
            ),
        ),
    )


def test_a_service_whose_name_prefixes_anothers_gets_nothing_of_the_others() -> None:
    short = build_policy(
        scope("prod-orders", "orders", data=True), account=ACCOUNT, state_bucket=BUCKET
    )
    for arn in (
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/microservices-prod/orders-v2",
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/microservices-prod-orders-v2:3",
        f"arn:aws:iam::{ACCOUNT}:role/prod-orders-v2-execution-role-0a1b2c3",
        f"arn:aws:iam::{ACCOUNT}:role/prod-orders-execution-role-0a1b2c3-x",
        f"arn:aws:s3:::{BUCKET}/.pulumi/stacks/microservices/prod-orders-v2.json",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/prod-orders-v2-image-repository-0a1b2c3",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/prod-orders-image-repository-0a1b2c3-x",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/prod-orders-image-repository-0a1b2c3/x",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/prod-orders-v2-data-table-0a1b2c3",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/prod-orders-data-table-0a1b2c3-x",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/prod-orders-data-table-0a1b2c3",
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    ):
        assert scoped_grants(short, arn) == [], arn
    for arn in (
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/prod-orders-image-repository-0a1b2c3",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/prod-orders-data-table-0a1b2c3",
    ):
        assert scoped_grants(short, arn), arn
    alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:microservices-prod-orders-v2-cpu-high"
    assert [sid for sid, _ in scoped_grants(short, alarm)] == [
        "AlarmPermissionsApplicationAutoScalingChecks"
    ]
    unscaled = build_policy(scope("prod-orders", "orders", scales=False), account=ACCOUNT)
    assert scoped_grants(unscaled, alarm) == []


def test_without_an_image_or_a_table_there_is_no_ecr_dynamodb_or_kms_statement() -> None:
    for data in (False, True):
        policy = build_policy(scope("prod-orders", "orders", data=data), account=ACCOUNT)
        actions = {a for statement in statements(policy) for a in statement["Action"]}
        for prefix in ("ecr:", "dynamodb:", "kms:"):
            assert any(a.startswith(prefix) for a in actions) is data, prefix


def test_without_scaling_there_is_no_scaling_statement() -> None:
    policy = build_policy(scope("prod-orders", "orders", scales=False), account=ACCOUNT)
    actions = [a for statement in statements(policy) for a in statement["Action"]]
    assert not [a for a in actions if a.startswith("application-autoscaling:")]
    assert "iam:CreateServiceLinkedRole" not in actions


def test_without_a_bucket_no_s3_and_the_account_is_a_placeholder() -> None:
    policy = build_policy(scope("prod-orders", "orders"))
    text = dumps(policy)
    assert '"s3:' not in text
    assert f":{ACCOUNT_PLACEHOLDER}:" in text and ACCOUNT not in text


def test_partitions() -> None:
    assert [partition_of(r) for r in ("us-east-1", "cn-north-1", "us-gov-west-1")] == [
        "aws",
        "aws-cn",
        "aws-us-gov",
    ]


def test_a_rendering_without_a_platform_key_is_refused() -> None:
    rendering = Rendering(project="microservices", stack="prod", resources=[], outputs={})
    with pytest.raises(NotAServiceStackError, match="'prod' is not a service stack"):
        scope_from_rendering(rendering)


# --- (c) and (d): the command ---------------------------------------------------------------


def test_a_platform_or_all_in_one_stack_exits_2_with_a_message(
    project: SplitProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project.directory)
    for stack in (project.platform, "dev"):
        assert main(["deploy-policy", "--stack", stack]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"error: '{stack}' is not a service stack: Pulumi.{stack}.yaml has no "
            "microservices:platform key. deploy-policy writes the policy of a service stack's "
            "deploy role; for a platform or all-in-one stack see docs/deploy-permissions.md\n"
        )


def test_bad_arguments_exit_2(
    project: SplitProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project.directory)
    stack = project.service_stacks["order-service"]
    assert main(["deploy-policy", "--stack", stack, "--account", "12345"]) == 2
    assert capsys.readouterr().err == (
        "error: --account '12345' is not a 12-digit AWS account id\n"
    )
    assert main(["deploy-policy", "--stack", stack, "--state-bucket", "Bad_Bucket"]) == 2
    assert "is not an S3 bucket name" in capsys.readouterr().err
    assert main(["deploy-policy", "--stack", "staging"]) == 2
    assert capsys.readouterr().err.startswith("error: no stack 'staging'")


def test_the_command_prints_the_policy_deterministically(
    project: SplitProject,
    policies: dict[str, tuple[Policy, StackScope]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command's output equals, byte for byte, the policy of a separate render."""
    monkeypatch.chdir(project.directory)
    stack = project.service_stacks["order-service"]
    args = ["deploy-policy", "--stack", stack, "--account", ACCOUNT, "--state-bucket", BUCKET]
    assert main(args) == 0
    captured = capsys.readouterr()
    policy, _ = policies["order-service"]
    assert captured.out == dumps(policy)
    assert json.loads(captured.out) == policy
    # acme/... is a Pulumi Cloud reference; the S3 backend's organization is `organization`.
    assert captured.err.startswith("note: with an S3 backend the platform reference is ")


def test_every_catalog_service_has_a_service_stack_policy(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    assert sorted(policies) == sorted(CATALOG)


EXAMPLE = StackScope(
    project="microservices",
    stack="prod-order-service",
    platform_reference="acme/microservices/prod",
    region="us-east-1",
    cluster_name="microservices-prod",
    services=(
        ServiceScope(
            name="order-service",
            family="microservices-prod-order-service",
            task_roles=("prod-order-service-execution-role", "prod-order-service-task-role"),
            alarm_names=tuple(
                f"microservices-prod-order-service-{suffix}"
                for suffix in (
                    "cpu-high",
                    "events-dlq-depth",
                    "events-oldest-message",
                    "memory-high",
                    "running-tasks-low",
                )
            ),
            scales=True,
            repositories=("prod-order-service-image-repository",),
            lifecycle_repositories=("prod-order-service-image-repository",),
            pushed_repositories=("prod-order-service-image-repository",),
            kms_repositories=("prod-order-service-image-repository",),
            tables=("prod-order-service-data-table",),
            keyed_tables=("prod-order-service-data-table",),
            keys=(("prod-order-service-data-key", 30),),
            key_policies=("prod-order-service-data-key",),
            events=EventScope(
                queues=(
                    "microservices-prod-order-service-events-dlq.fifo",
                    "microservices-prod-order-service-events.fifo",
                ),
                subscribed_queues=("microservices-prod-order-service-events.fifo",),
                topics=("microservices-prod-user-service-events.fifo",),
            ),
        ),
    ),
)
"""The documented example: order-service's stack of prod split into service stacks, order-service
building its image, owning a table and subscribing to user-service's events."""


def documented_block(marker: str) -> str:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "deploy-permissions.md").read_text()
    start = f"<!-- deploy-policy: {marker} -->\n```json\n"
    assert docs.count(start) == 1, f"marker {marker} is missing"
    return docs.split(start, 1)[1].split("```\n<!-- /deploy-policy -->", 1)[0]


def test_the_documented_example_is_what_the_command_reads_from_the_stack(
    project: SplitProject, built: dict[str, Rendering]
) -> None:
    """EXAMPLE is the scope of prod-order-service when order-service builds and owns a table."""
    assert project.service_stacks["order-service"] == EXAMPLE.stack
    assert scope_from_rendering(built["order-service"]) == EXAMPLE


def test_the_documented_example_is_what_the_policy_builds() -> None:
    """docs/deploy-permissions.md shows the policy of EXAMPLE with the placeholder account,
    and the statements `--state-bucket acme-pulumi-state` appends."""
    without_bucket = build_policy(EXAMPLE)
    assert documented_block("prod-order-service") == dumps(without_bucket)
    with_bucket = build_policy(EXAMPLE, state_bucket="acme-pulumi-state")
    appended = with_bucket["Statement"][len(without_bucket["Statement"]) :]
    assert documented_block("prod-order-service --state-bucket acme-pulumi-state") == (
        json.dumps(appended, indent=2) + "\n"
    )


def test_a_routed_service_may_read_the_listener_rules_and_nothing_more_of_the_load_balancer(
    variant: tuple[str, Policies],
) -> None:
    _, policies = variant
    for service, (policy, stack) in policies.items():
        routed = any(s.routed for s in stack.services)
        assert routed is bool(CATALOG[service].routes), service
        grants = [
            s
            for s in statements(policy)
            if any(a.startswith("elasticloadbalancing:") for a in s["Action"])
        ]
        if not routed:
            assert grants == [], service
            continue
        (grant,) = grants
        assert grant["Action"] == [
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTags",
        ]
        assert grant["Resource"] == "*"
        assert grant["Condition"] == {"StringEquals": {"aws:RequestedRegion": stack.region}}


def test_the_grants_on_every_key_are_named_in_the_commands_output() -> None:
    policy = build_policy(scope("prod-orders", "orders", data=True), account=ACCOUNT)
    notes = broad_key_notes(policy)
    every_key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"
    for action in BROAD_KEY_ACTIONS:
        (statement,) = [s for s in statements(policy) if action in s["Action"]]
        assert statement["Resource"] in (every_key, [every_key])
        (note,) = [n for n in notes if f" grants {action} " in n]
        assert note.startswith(f"note: statement {statement['Sid']} grants {action} on every KMS")
        assert every_key in note and "every team role holds it" in note
        if "Condition" in statement:
            assert json.dumps(statement["Condition"], sort_keys=True) in note
    # Without a key of its own, a stack's role gets neither, and nothing is said.
    assert broad_key_notes(build_policy(scope("prod-orders", "orders"), account=ACCOUNT)) == []


def test_the_command_prints_the_notes_on_stderr_and_the_policy_alone_on_stdout(
    project: SplitProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project.directory)
    for service, stack in sorted(project.service_stacks.items()):
        assert main(["deploy-policy", "--stack", stack, "--account", ACCOUNT]) == 0
        captured = capsys.readouterr()
        policy = json.loads(captured.out)
        assert captured.err.splitlines() == broad_key_notes(policy), service


def test_a_subscriber_subscribes_only_its_own_queue_by_sqs_and_a_publisher_creates_no_queue(
    policies: Policies,
) -> None:
    """order-service subscribes to user-service's topic: Subscribe on that topic only, with
    its own queue as the endpoint; user-service's relay reports to the platform's failure
    queue, so its stack has no SQS or SNS permission."""
    policy, scope = policies["order-service"]
    (subscribe,) = [s for s in statements(policy) if "sns:Subscribe" in s["Action"]]
    topic = naming.events_topic(scope.project, scope.platform_stack, "user-service")
    assert subscribe["Resource"] == [f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic}"]
    queue = naming.events_queue(scope.project, scope.platform_stack, "order-service")
    assert subscribe["Condition"] == {
        "StringEquals": {
            "sns:Protocol": "sqs",
            "sns:Endpoint": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"],
        }
    }
    assert not [a for s in statements(policy) for a in s["Action"] if a.startswith("lambda:")]
    policy, _ = policies["user-service"]
    actions = [a for s in statements(policy) for a in s["Action"]]
    assert not [a for a in actions if a.startswith(("sqs:", "sns:"))]
    assert "lambda:CreateFunction" in actions


def test_a_policy_too_long_for_one_role_is_said_so() -> None:
    statement = {"Sid": "S", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn"}
    short = {"Version": "2012-10-17", "Statement": [statement]}
    assert size_note(short) is None
    long = {"Version": "2012-10-17", "Statement": [statement] * 200}
    note = size_note(long)
    assert note is not None and note.startswith("note: this policy has ")
    assert "at most 10,240" in note and "managed policies" in note
