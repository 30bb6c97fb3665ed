"""Services that build their own image and own a table: the ECR repository, the image build,
the DynamoDB table and the permissions around them, on rendered stacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import components.service_runtime
import config.rules.catalog
from components.compute.image import context_hash, image_build
from components.data.table import ITEM_ACTIONS, KEY_ACTIONS
from offline.render.environments import environment_document
from offline.render.harness import Rendering
from offline.render.stackfile import PROJECT_DIR, config_set_path
from services import CATALOG
from tests.conftest import container, render_document, render_with
from tests.test_policies import _policy_resources, rendered_violations, run_stack

SERVICE = "user-service"
BUILDERS = sorted(name for name, spec in CATALOG.items() if spec.build)
OWNERS = sorted(name for name, spec in CATALOG.items() if spec.table)


@pytest.fixture
def builds_and_owns_a_table() -> Path:
    """user-service builds its image from its directory and owns a table."""
    spec = CATALOG[SERVICE]
    assert spec.build is not None and spec.table, "user-service builds and owns a table"
    return PROJECT_DIR / spec.build


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
    # The apps' shared context, the one Dockerfile, and the service's directory and package.
    assert image["context"] == "apps"
    assert image["dockerfile"] == "apps/Dockerfile"
    assert image["args"] == {"SERVICE": SERVICE, "PACKAGE": SERVICE.replace("-", "_")}
    assert image["platform"] == "linux/arm64"
    build = image_build(PROJECT_DIR, f"apps/{SERVICE}")
    assert image["imageTag"] == f"arm64-{build.content_hash[:16]}"
    task = rendering.named(f"prod-{SERVICE}-task").inputs
    assert task["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    # The task runs the pushed digest, so a code change rolls out exactly this service.
    assert container(rendering, SERVICE)["image"] == f"${{prod-{SERVICE}-image-image.imageUri}}"
    policy = json.loads(rendering.named(f"prod-{SERVICE}-execution-policy").inputs["policy"])
    (pull,) = [s for s in policy["Statement"] if s["Sid"] == "PullImage"]
    assert pull["Resource"] == f"${{prod-{SERVICE}-image-repository.arn}}"


def test_a_code_change_is_a_new_tag(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text("print('users')\n")
    before = context_hash(tmp_path)
    (tmp_path / "app.py").write_text("print('users, v2')\n")
    assert context_hash(tmp_path) != before
    # Bytecode caches are not the code.
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "app.py").write_text("print('users')\n")
    assert context_hash(tmp_path) == before


def write_apps(root: Path) -> Path:
    """A shared context: the Dockerfile, service-kit and two apps."""
    apps = root / "apps"
    (apps / "Dockerfile").parent.mkdir(parents=True)
    (apps / "Dockerfile").write_text("FROM scratch\n")
    for name in ("service-kit/service_kit", "users/users", "orders/orders"):
        (apps / name).mkdir(parents=True)
        (apps / name / "__main__.py").write_text(f"print('{name}')\n")
    (apps / "service-kit" / "pyproject.toml").write_text("[project]\n")
    return apps


def test_an_images_tag_changes_with_what_its_build_copies_in_only(tmp_path: Path) -> None:
    apps = write_apps(tmp_path)
    before = image_build(tmp_path, "apps/users")
    assert before.build_args == {"SERVICE": "users", "PACKAGE": "users"}
    assert (before.context, before.dockerfile) == ("apps", "apps/Dockerfile")
    # Another app's code: the same tag.
    (apps / "orders" / "orders" / "__main__.py").write_text("print('orders, v2')\n")
    assert image_build(tmp_path, "apps/users").content_hash == before.content_hash
    # The app's own code, the shared library or the Dockerfile: a new tag.
    for changed in ("users/users/__main__.py", "service-kit/service_kit/__main__.py", "Dockerfile"):
        original = (apps / changed).read_text()
        (apps / changed).write_text(original + "# changed\n")
        assert image_build(tmp_path, "apps/users").content_hash != before.content_hash, changed
        (apps / changed).write_text(original)
    assert image_build(tmp_path, "apps/users").content_hash == before.content_hash


def test_every_building_service_gets_a_repository_and_image(prod: Rendering) -> None:
    assert BUILDERS, "the catalog builds its images"
    for name in BUILDERS:
        image = prod.named(f"prod-{name}-image-image").inputs
        assert image["context"] == "apps"
        assert image["args"]["SERVICE"] == CATALOG[name].build.removeprefix("apps/")
        assert container(prod, name)["image"] == f"${{prod-{name}-image-image.imageUri}}"
    assert (
        sorted(
            r.name.removeprefix("prod-").removesuffix("-data-table")
            for r in prod.of_type("aws:dynamodb/table:Table")
        )
        == OWNERS
    )


def test_prod_runs_a_service_on_graviton(prod: Rendering) -> None:
    architectures = {
        r.name: r.inputs["runtimePlatform"]["cpuArchitecture"]
        for r in prod.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }
    arm = [name for name, architecture in architectures.items() if architecture == "ARM64"]
    assert arm, "prod runs at least one service on ARM64"
    for task in arm:
        service = task.removeprefix("prod-").removesuffix("-task")
        image = prod.named(f"prod-{service}-image-image").inputs
        assert image["platform"] == "linux/arm64"


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
        },
        # DynamoDB uses the table's key on the caller's behalf: without this every data call
        # fails while /health passes.
        {
            "Sid": "OwnTableKeyThroughDynamoDB",
            "Effect": "Allow",
            "Action": list(KEY_ACTIONS),
            "Resource": f"${{prod-{SERVICE}-data-key.arn}}",
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        },
    ]
    assert not any(a.endswith(":*") or a == "*" for a in ITEM_ACTIONS + KEY_ACTIONS)
    assert rendered_violations(rendering).get("dynamodb-own-table-only") is None


def test_dev_table_has_no_production_protections(builds_and_owns_a_table: Path) -> None:
    table = render_with("dev").named(f"dev-{SERVICE}-data-table").inputs
    assert table["pointInTimeRecovery"] == {"enabled": False}
    assert table["deletionProtectionEnabled"] is False
    assert table["serverSideEncryption"] == {"enabled": False}


@pytest.mark.parametrize("choice", ["keep", "delete"])
def test_teardown_decides_the_data(builds_and_owns_a_table: Path, choice: str) -> None:
    document = config_set_path(environment_document("prod"), "teardown.logs", "keep")
    document = config_set_path(document, "teardown.data", choice)
    rendering = render_document("prod", document)
    table = rendering.named(f"prod-{SERVICE}-data-table")
    repository = rendering.named(f"prod-{SERVICE}-image-repository")
    assert table.inputs["deletionProtectionEnabled"] is False
    assert table.retain_on_delete is (choice == "keep")
    assert repository.inputs["forceDelete"] is (choice == "delete")
    assert repository.retain_on_delete is (choice == "keep")


def test_a_build_directory_that_is_no_app_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(components.service_runtime, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(config.rules.catalog, "PROJECT_ROOT", tmp_path)
    rendering = render_with("dev", check=False)
    assert rendering.resources == []
    assert f'services.{SERVICE}: builds its image from "apps/{SERVICE}", which is no app' in str(
        rendering.error
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
        "service's table: give each service's role its own table and key only"
    ]
