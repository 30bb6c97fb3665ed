"""Pure functions behind a task: container definition and IAM documents."""

from __future__ import annotations

import re

from components.compute import (
    PREPARE_TMP_IMAGE,
    Container,
    assume_role_policy,
    container_definition,
    ecr_repository_arn,
    execution_policy,
    secret_resources,
    task_containers,
)

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"
PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/api-key"


def application(**overrides: object) -> Container:
    arguments: dict = {
        "name": "orders",
        "image": "public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine",
        "port": 8080,
        "environment": {"B": "2", "A": "1"},
        "secrets": {"DB_PASSWORD": SECRET},
        "user": "101",
        "log_group": "/ecs/microservices-dev/order-service",
        "region": "us-east-1",
    }
    arguments.update(overrides)
    return Container(**arguments)


def definition(**overrides: object) -> dict:
    return container_definition(application(**overrides))


def test_container_is_hardened() -> None:
    container = definition()
    assert container["readonlyRootFilesystem"] is True
    assert container["privileged"] is False
    assert container["user"] == "101"
    assert container["linuxParameters"] == {"initProcessEnabled": True}
    # The read-only root needs a writable /tmp, backed by the task's `tmp` volume.
    assert container["mountPoints"] == [
        {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
    ]
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]


def test_container_logs_to_its_group() -> None:
    logs = definition()["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == "/ecs/microservices-dev/order-service"
    assert logs["options"]["awslogs-region"] == "us-east-1"
    assert logs["options"]["awslogs-stream-prefix"] == "orders"


def test_secrets_go_to_secrets_not_environment() -> None:
    container = definition()
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET}]
    assert [e["name"] for e in container["environment"]] == ["A", "B"]  # sorted, stable diffs
    assert SECRET not in str(container["environment"])


def test_no_user_when_the_image_needs_root() -> None:
    assert "user" not in definition(user=None)


def test_secret_resources_split_and_normalise() -> None:
    with_json_key = SECRET + ":password::"
    secrets, parameters = secret_resources([with_json_key, PARAMETER, SECRET])
    assert secrets == [SECRET, SECRET + "-??????"]
    assert parameters == [PARAMETER]


def test_execution_policy_reads_exactly_the_named_secrets() -> None:
    policy = execution_policy(
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x",
        secrets=[SECRET, PARAMETER],
        image="public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine",
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"WriteLogs", "ReadSecrets", "ReadParameters"}
    assert by_sid["WriteLogs"]["Resource"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x:*"
    )
    assert by_sid["ReadSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert by_sid["ReadSecrets"]["Resource"] == [SECRET, SECRET + "-??????"]
    assert by_sid["ReadParameters"]["Resource"] == [PARAMETER]
    for statement in policy["Statement"]:
        actions = statement["Action"]
        assert "*" not in (actions if isinstance(actions, list) else [actions])


def test_execution_policy_without_secrets_or_private_images_only_writes_logs() -> None:
    policy = execution_policy(log_group_arn="arn", secrets=[], image="nginx:1.29")
    assert [s["Sid"] for s in policy["Statement"]] == ["WriteLogs"]


def test_private_ecr_images_get_pull_rights_on_their_repository() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/orders:1.4.2"
    assert ecr_repository_arn(image) == "arn:aws:ecr:eu-west-1:123456789012:repository/team/orders"
    policy = execution_policy(log_group_arn="arn", secrets=[], image=image)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PullImage"]["Resource"] == (
        "arn:aws:ecr:eu-west-1:123456789012:repository/team/orders"
    )
    assert by_sid["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"


def test_public_images_need_no_ecr_rights() -> None:
    assert ecr_repository_arn("public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine") is None
    assert ecr_repository_arn("ghcr.io/org/app@sha256:abc") is None


def test_task_trust_is_limited_to_the_account() -> None:
    policy = assume_role_policy(account_id="123456789012", region="us-east-1")
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"},
    }
    assert "Condition" not in assume_role_policy()["Statement"][0]


def containers(prepare_tmp: bool = True, **overrides: object) -> list[dict]:
    return task_containers(application(**overrides), prepare_tmp=prepare_tmp)


def test_non_root_application_waits_for_tmp_preparation() -> None:
    prepare, application = containers()
    assert prepare["name"] == "prepare-tmp"
    assert prepare["essential"] is False
    assert prepare["user"] == "0"  # only root can open up the root-owned volume
    # Its own pinned image and no shell, so it works whatever the application's image holds.
    assert prepare["image"] == PREPARE_TMP_IMAGE
    assert prepare["image"] != application["image"]
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/busybox:\d+\.\d+\.\d+", prepare["image"])
    assert prepare["entryPoint"] == ["/bin/chmod"]
    assert prepare["command"] == ["1777", "/tmp"]
    assert prepare["readonlyRootFilesystem"] is True
    assert prepare["mountPoints"] == application["mountPoints"]
    assert prepare["logConfiguration"]["options"]["awslogs-stream-prefix"] == "prepare-tmp"
    assert (
        prepare["logConfiguration"]["options"]["awslogs-group"]
        == "/ecs/microservices-dev/order-service"
    )
    assert application["essential"] is True
    assert application["dependsOn"] == [{"containerName": "prepare-tmp", "condition": "SUCCESS"}]


def test_no_preparation_when_not_needed() -> None:
    for overrides in ({"user": None}, {"user": "0"}, {"prepare_tmp": False}):
        (application,) = containers(**overrides)
        assert "dependsOn" not in application
