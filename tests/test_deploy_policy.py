"""`python -m offline deploy-policy`: the policy of a service stack's deploy role grants what
that stack's `pulumi up` and `pulumi destroy` need, on that stack's services, and nothing on
another service's resources.

Resource patterns are matched with fnmatch's `*` and `?`, a superset of IAM's matching: IAM's
`*` stays within a colon-separated ARN segment unless it ends the segment, fnmatch's never
does. So a pattern fnmatch finds no match for grants nothing there in IAM either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

import naming
from offline.__main__ import main
from offline.deploy_policy import (
    ACCOUNT_PLACEHOLDER,
    CONDITION_KEYS,
    GLOBAL_CONDITION_KEYS,
    RESOURCE_TYPES,
    NotAServiceStackError,
    ServiceScope,
    StackScope,
    alarm_arn,
    build_policy,
    dumps,
    ecs_service_arn,
    log_group_arn,
    partition_of,
    policy_for_stack,
    role_arn,
    s3_object_arn,
    scope_from_rendering,
    state_file,
    task_definition_arn,
)
from offline.harness import Rendering
from services import CATALOG
from tests.split import SplitProject, split

ACCOUNT = "123456789012"
BUCKET = "acme-pulumi-state"
ROLE_POLICY_MAX_CHARACTERS = 10240
"""IAM quotas: a role's inline policies hold at most 10,240 characters together, whitespace not
counted (IAM User Guide, reference_iam-quotas)."""

Policy = dict[str, Any]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> SplitProject:
    return split(tmp_path_factory.mktemp("deploy-policy") / "project")


@pytest.fixture(scope="module")
def policies(project: SplitProject) -> dict[str, tuple[Policy, StackScope]]:
    """Service name -> the policy of its service stack, and the scope it was built from."""
    return {
        service: policy_for_stack(stack, project.directory, account=ACCOUNT, state_bucket=BUCKET)
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
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for policy, _ in policies.values():
        assert policy["Version"] == "2012-10-17"
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert "*" not in action and "?" not in action, action
                assert action in RESOURCE_TYPES, f"{action} is not in the allow-list"


def test_star_resources_only_for_actions_without_resource_level_permissions(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for policy, _ in policies.values():
        for statement in statements(policy):
            unscoped = [a for a in statement["Action"] if not RESOURCE_TYPES[a]]
            if statement["Resource"] == "*":
                assert unscoped == statement["Action"], statement["Sid"]
            else:
                assert unscoped == [], statement["Sid"]
                assert all(r.startswith("arn:aws:") for r in statement["Resource"])


def test_conditions_use_only_keys_the_reference_gives_the_actions(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for policy, _ in policies.values():
        for statement in statements(policy):
            for operator, values in statement.get("Condition", {}).items():
                assert operator in {"StringEquals", "ArnEquals", "ArnLikeIfExists"}, operator
                for key in values:
                    for action in statement["Action"]:
                        allowed = CONDITION_KEYS.get(action, frozenset()) | GLOBAL_CONDITION_KEYS
                        assert key in allowed, f"{key} with {action}"


def test_sids_are_unique_and_valid_and_the_policy_fits_an_inline_role_policy(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for policy, _ in policies.values():
        sids = [statement["Sid"] for statement in statements(policy)]
        assert len(sids) == len(set(sids))
        assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
        characters = len("".join(json.dumps(policy).split()))
        assert characters <= ROLE_POLICY_MAX_CHARACTERS


def test_patterns_name_the_stack_or_are_the_documented_account_wide_ones(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    """Every ARN pattern names this stack's service, family, roles, alarms or state, except
    those whose resource ids no stack controls (scalable targets), those Application Auto
    Scaling checks without naming a resource (alarms), the bucket itself, the backend's metadata
    and the platform's state (read only)."""
    for service, (policy, scope) in policies.items():
        own = (
            f"/{service}",
            f"task-definition/{naming.task_family(scope.project, scope.platform_stack, service)}:",
            f"role/{scope.platform_stack}-{service}-",
            f":alarm:{naming.alarm_prefix(scope.project, scope.platform_stack, service)}-",
            f"/{scope.stack}.",
            f"/{scope.stack}/",
        )
        account_wide = {
            f"arn:aws:application-autoscaling:us-east-1:{ACCOUNT}:scalable-target/*",
            f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*",
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
    project: SplitProject, policies: dict[str, tuple[Policy, StackScope]]
) -> None:
    for service, (policy, scope) in policies.items():
        for other, other_stack in other_services(project, service):
            for kind, arn in resources_of(
                scope.project, scope.platform_stack, other, other_stack
            ).items():
                assert scoped_grants(policy, arn) == [], f"{scope.stack} on {other}'s {kind}"


def test_other_services_alarms_only_through_application_auto_scalings_check(
    project: SplitProject, policies: dict[str, tuple[Policy, StackScope]]
) -> None:
    """Application Auto Scaling checks the caller's alarm permissions with calls that name no
    alarm, so a stack that scales gets put, describe and delete on every alarm of the region;
    nothing else (no tagging, no other statement) reaches another service's alarms."""
    for service, (policy, scope) in policies.items():
        for other, _ in other_services(project, service):
            prefix = naming.alarm_prefix(scope.project, scope.platform_stack, other)
            arn = alarm_arn("aws", "us-east-1", ACCOUNT, f"{prefix}-cpu-high")
            grants = scoped_grants(policy, arn)
            assert {sid for sid, _ in grants} <= {"AlarmPermissionsApplicationAutoScalingChecks"}
            for action in ("cloudwatch:TagResource", "cloudwatch:UntagResource"):
                assert not granted(policy, action, arn)


def test_no_pattern_covers_the_platforms_resources_or_writes_its_state(
    project: SplitProject, policies: dict[str, tuple[Policy, StackScope]]
) -> None:
    for policy, scope in policies.values():
        cluster = naming.cluster_name(scope.project, scope.platform_stack)
        assert scoped_grants(policy, f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{cluster}") == []
        platform_state = s3_object_arn("aws", BUCKET, state_file(scope.project, project.platform))
        assert granted(policy, "s3:GetObject", platform_state)
        for action in ("s3:PutObject", "s3:DeleteObject"):
            assert not granted(policy, action, platform_state)


def test_its_own_resources_are_covered(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for service, (policy, scope) in policies.items():
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


def test_no_log_permission_at_all(policies: dict[str, tuple[Policy, StackScope]]) -> None:
    """The stack's log group belongs to the platform; the task definition only names it, and
    the ECS agent writes to it with the execution role. So the deployer needs no logs action,
    on its own log group or another's."""
    for policy, _ in policies.values():
        actions = [a for statement in statements(policy) for a in statement["Action"]]
        assert not [a for a in actions if a.startswith("logs:")]


def test_services_run_only_their_stacks_task_definitions(
    policies: dict[str, tuple[Policy, StackScope]],
) -> None:
    for service, (policy, scope) in policies.items():
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
        assert passes == (
            {"ecs.amazonaws.com": [f"{prefix}{r}-???????" for r in own.infrastructure_roles]}
            if own.infrastructure_roles
            else {}
        )


def test_the_scope_comes_from_the_rendered_service_stack(
    project: SplitProject, policies: dict[str, tuple[Policy, StackScope]]
) -> None:
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
        assert own.scales


# --- pure construction: names that share a prefix, no scaling, no bucket -------------------


def scope(stack: str, service: str, *, scales: bool = True) -> StackScope:
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
            ),
        ),
    )


def test_a_service_whose_name_prefixes_anothers_gets_nothing_of_the_others() -> None:
    short = build_policy(scope("prod-orders", "orders"), account=ACCOUNT, state_bucket=BUCKET)
    for arn in (
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/microservices-prod/orders-v2",
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/microservices-prod-orders-v2:3",
        f"arn:aws:iam::{ACCOUNT}:role/prod-orders-v2-execution-role-0a1b2c3",
        f"arn:aws:iam::{ACCOUNT}:role/prod-orders-execution-role-0a1b2c3-x",
        f"arn:aws:s3:::{BUCKET}/.pulumi/stacks/microservices/prod-orders-v2.json",
    ):
        assert scoped_grants(short, arn) == [], arn
    alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:microservices-prod-orders-v2-cpu-high"
    assert [sid for sid, _ in scoped_grants(short, alarm)] == [
        "AlarmPermissionsApplicationAutoScalingChecks"
    ]
    unscaled = build_policy(scope("prod-orders", "orders", scales=False), account=ACCOUNT)
    assert scoped_grants(unscaled, alarm) == []


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
                for suffix in ("cpu-high", "memory-high", "running-tasks-low")
            ),
            scales=True,
        ),
    ),
)
"""The documented example: order-service's stack of prod split into service stacks."""


def documented_block(marker: str) -> str:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "deploy-permissions.md").read_text()
    start = f"<!-- deploy-policy: {marker} -->\n```json\n"
    assert docs.count(start) == 1, f"marker {marker} is missing"
    return docs.split(start, 1)[1].split("```\n<!-- /deploy-policy -->", 1)[0]


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
