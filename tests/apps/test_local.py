"""scripts/local.py's environments: the dev task's variables, with local values for what only a
deploy knows (the real processes are started by tests/test_e2e.py)."""

from __future__ import annotations

import pytest

from tests.apps.conftest import load_script

local = load_script("local")

URLS = {
    "user-service": "http://127.0.0.1:5001",
    "order-service": "http://127.0.0.1:5002",
    "api-gateway": "http://127.0.0.1:5003",
}
ENDPOINT = "http://127.0.0.1:5000"


def environment_of(service: str, rendered: dict[str, str]) -> dict[str, str]:
    container = local.RenderedContainer(environment=rendered, region="eu-west-1")
    return local.local_environment(
        local.APPS[service], container, urls=URLS, port=6000, dynamodb_endpoint=ENDPOINT
    )


def test_cloud_map_urls_become_local_urls() -> None:
    env = environment_of(
        "api-gateway",
        {
            "USER_SERVICE_URL": "http://users.dev.internal:8080",
            "ORDER_SERVICE_URL": "http://orders.dev.internal:8080",
            "USER_SERVICE_TIMEOUT_SECONDS": "3",
        },
    )
    assert env["USER_SERVICE_URL"] == URLS["user-service"]
    assert env["ORDER_SERVICE_URL"] == URLS["order-service"]
    assert env["USER_SERVICE_TIMEOUT_SECONDS"] == "3"
    assert "TABLE_NAME" not in env
    assert (env["HOST"], env["PORT"]) == ("127.0.0.1", "6000")


@pytest.mark.parametrize(
    "rendered",
    [{}, {"TABLE_NAME": "${dev-order-service-table.name}"}],
    ids=["no-TABLE_NAME", "TABLE_NAME-after-deploy"],
)
def test_a_data_service_gets_its_local_table(rendered: dict[str, str]) -> None:
    env = environment_of("order-service", {"LOG_LEVEL": "debug", **rendered})
    assert env["TABLE_NAME"] == "local-order-service"
    assert env["LOG_LEVEL"] == "debug"


def test_aws_points_at_the_local_endpoint_with_dummy_credentials() -> None:
    env = environment_of("user-service", {})
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == ENDPOINT
    assert env["AWS_REGION"] == "eu-west-1"  # the stack's region, from the task's log config
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "local"


def test_a_region_the_task_sets_is_kept() -> None:
    assert environment_of("user-service", {"AWS_REGION": "us-west-2"})["AWS_REGION"] == (
        "us-west-2"
    )


def test_an_unknown_deploy_time_value_stops_the_start() -> None:
    with pytest.raises(local.LocalError, match="QUEUE_URL"):
        environment_of("user-service", {"QUEUE_URL": "${dev-queue.url}"})


def test_the_callers_aws_settings_are_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "secret")
    env = local._process_environment(environment_of("user-service", {}))
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "local"


def test_free_ports_are_distinct_loopback_ports() -> None:
    ports = local.free_ports(5)
    assert len(set(ports)) == 5 and all(1024 <= p <= 65535 for p in ports)


def test_a_callee_without_an_app_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    urls = {k: v for k, v in URLS.items() if k != "user-service"}
    container = local.RenderedContainer(
        environment={"USER_SERVICE_URL": "http://users.dev.internal:8080"}, region="eu-west-1"
    )
    env = local.local_environment(
        local.APPS["order-service"], container, urls=urls, port=6000, dynamodb_endpoint=ENDPOINT
    )
    assert "USER_SERVICE_URL" not in env
    assert "USER_SERVICE_URL left out" in capsys.readouterr().err
