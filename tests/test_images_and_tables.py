"""A service that builds its own image and owns a table: the ECR repository, the image build,
the DynamoDB table and the permissions around them, on rendered stacks.

The committed specs still run the default image; these tests give user-service a build
directory and a table, as a spec does with `build=` and `table=True`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import components.service_runtime
import config.rules
from components.service_image import context_hash
from components.service_table import ITEM_ACTIONS
from offline.harness import Rendering
from offline.stackfile import config_set_path, read_stack_document
from services import CATALOG
from tests.conftest import container, render_document, render_with
from tests.test_policies import _policy_resources, rendered_violations, run_stack

SERVICE = "user-service"


@pytest.fixture
def builds_and_owns_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """user-service builds from `apps/user-service` of a project root in tmp_path."""
    context = tmp_path / "apps" / SERVICE
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "app.py").write_text("print('users')\n")
    monkeypatch.setattr(components.service_runtime, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(config.rules, "PROJECT_ROOT", tmp_path)
    spec = dataclasses.replace(CATALOG[SERVICE], build=f"apps/{SERVICE}", table=True)
    monkeypatch.setitem(CATALOG, SERVICE, spec)
    return context


def prod_on_arm(**extra: str) -> Rendering:
    changes = [(f"services.{SERVICE}.cpuArchitecture", "ARM64"), *extra.items()]
    return render_with("prod", changes)


def test_prod_builds_into_an_immutable_scanned_repository(builds_and_owns_a_table: Path) -> None:
    rendering = prod_on_arm()
    repository = rendering.named(f"prod-{SERVICE}-image-repository").inputs
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repository["forceDelete"] is False
    lifecycle = json.loads(
        rendering.named(f"prod-{SERVICE}-image-repository-lifecycle").inputs["policy"]
    )
    (rule,) = lifecycle["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["action"] == {"type": "expire"}
    image = rendering.named(f"prod-{SERVICE}-image-image").inputs
    assert image["context"] == f"apps/{SERVICE}"
    assert image["platform"] == "linux/arm64"
    assert image["imageTag"] == context_hash(builds_and_owns_a_table)[:16]
    task = rendering.named(f"prod-{SERVICE}-task").inputs
    assert task["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    # The task runs the pushed digest, so a code change rolls out exactly this service.
    assert container(rendering, SERVICE)["image"] == f"${{prod-{SERVICE}-image-image.imageUri}}"
    policy = json.loads(rendering.named(f"prod-{SERVICE}-execution-policy").inputs["policy"])
    (pull,) = [s for s in policy["Statement"] if s["Sid"] == "PullImage"]
    assert pull["Resource"] == f"${{prod-{SERVICE}-image-repository.arn}}"


def test_a_code_change_is_a_new_tag(builds_and_owns_a_table: Path) -> None:
    before = context_hash(builds_and_owns_a_table)
    (builds_and_owns_a_table / "app.py").write_text("print('users, v2')\n")
    assert context_hash(builds_and_owns_a_table) != before


def test_prod_table_is_recoverable_protected_and_under_its_own_key(
    builds_and_owns_a_table: Path,
) -> None:
    rendering = prod_on_arm()
    table = rendering.named(f"prod-{SERVICE}-data-table").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert (table["hashKey"], table["attributes"]) == ("id", [{"name": "id", "type": "S"}])
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["deletionProtectionEnabled"] is True
    assert table["serverSideEncryption"] == {
        "enabled": True,
        "kmsKeyArn": f"${{prod-{SERVICE}-data-key.arn}}",
    }
    environment = {e["name"]: e["value"] for e in container(rendering, SERVICE)["environment"]}
    assert environment["TABLE_NAME"] == f"${{prod-{SERVICE}-data-table.name}}"
    policy = json.loads(rendering.named(f"prod-{SERVICE}-table-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "OwnTableItems",
            "Effect": "Allow",
            "Action": list(ITEM_ACTIONS),
            "Resource": f"${{prod-{SERVICE}-data-table.arn}}",
        }
    ]
    assert not any(a.endswith(":*") or a == "*" for a in ITEM_ACTIONS)
    assert rendered_violations(rendering).get("dynamodb-own-table-only") is None


def test_dev_table_has_no_production_protections(builds_and_owns_a_table: Path) -> None:
    table = render_with("dev").named(f"dev-{SERVICE}-data-table").inputs
    assert table["pointInTimeRecovery"] == {"enabled": False}
    assert table["deletionProtectionEnabled"] is False
    assert table["serverSideEncryption"] == {"enabled": False}


@pytest.mark.parametrize("choice", ["keep", "delete"])
def test_teardown_decides_the_data(builds_and_owns_a_table: Path, choice: str) -> None:
    document = config_set_path(read_stack_document("prod"), "teardown.logs", "keep")
    document = config_set_path(document, "teardown.data", choice)
    rendering = render_document("prod", document)
    table = rendering.named(f"prod-{SERVICE}-data-table")
    repository = rendering.named(f"prod-{SERVICE}-image-repository")
    assert table.inputs["deletionProtectionEnabled"] is False
    assert table.retain_on_delete is (choice == "keep")
    assert repository.inputs["forceDelete"] is (choice == "delete")
    assert repository.retain_on_delete is (choice == "keep")


def test_a_build_directory_without_a_dockerfile_is_refused(
    builds_and_owns_a_table: Path,
) -> None:
    (builds_and_owns_a_table / "Dockerfile").unlink()
    rendering = render_with("dev", check=False)
    assert rendering.resources == []
    assert (
        f'services.{SERVICE}: builds its image from "apps/{SERVICE}", which has no Dockerfile'
        in str(rendering.error)
    )


def test_no_task_role_reaches_another_services_table() -> None:
    table_policy = {"policy": json.dumps({"Statement": []})}
    own = _policy_resources(
        [
            ("aws:dynamodb/table:Table", "prod-user-service-data-table", {}, {}),
            ("aws:iam/role:Role", "prod-user-service-task-role", {}, {}),
            (
                "aws:iam/rolePolicy:RolePolicy",
                "prod-user-service-table-policy",
                table_policy,
                {
                    "role": ["prod-user-service-task-role"],
                    "policy": ["prod-user-service-data-table"],
                },
            ),
        ]
    )
    assert run_stack("dynamodb-own-table-only", own) == []
    reaching = _policy_resources(
        [
            ("aws:dynamodb/table:Table", "prod-user-service-data-table", {}, {}),
            ("aws:iam/role:Role", "prod-order-service-task-role", {}, {}),
            (
                "aws:iam/rolePolicy:RolePolicy",
                "prod-order-service-table-policy",
                table_policy,
                {
                    "role": ["prod-order-service-task-role"],
                    "policy": ["prod-user-service-data-table"],
                },
            ),
        ]
    )
    assert [message for message, _ in run_stack("dynamodb-own-table-only", reaching)] == [
        "the task role of prod-order-service reaches prod-user-service-data-table, another "
        "service's table: give each service's role its own table only"
    ]
