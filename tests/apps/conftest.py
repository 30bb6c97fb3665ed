"""The applications' unit tests: each app's package (apps/<service>/<package>) is importable
here as its image imports it, and DynamoDB is moto's in-process mock."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

PROJECT = Path(__file__).resolve().parent.parent.parent
APPS = PROJECT / "apps"
APP_DIRECTORIES = sorted(d for d in APPS.iterdir() if (d / "Dockerfile").is_file())
for _directory in APP_DIRECTORIES:
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))

REGION = "us-east-1"


def _dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and nothing of the caller's AWS settings: no real account is reached."""
    _dummy_aws(monkeypatch)


@pytest.fixture(scope="module")
def _mocked_dynamodb() -> Iterator[Any]:
    """One moto mock and client per test module (a client takes a tenth of a second)."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as monkeypatch:
        _dummy_aws(monkeypatch)
        with mock_aws():
            yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dynamodb(_mocked_dynamodb: Any, aws: None) -> Iterator[Any]:
    """moto's in-process DynamoDB, with no table; what a test creates is deleted after it."""
    yield _mocked_dynamodb
    for name in _mocked_dynamodb.list_tables()["TableNames"]:
        _mocked_dynamodb.delete_table(TableName=name)


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def items(client: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    for _ in range(1000):  # bounded: pages of a small test table
        page = client.scan(**kwargs)
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("the scan did not end")


def big_body(size: int) -> bytes:
    """A JSON object of about `size` bytes."""
    return b'{"name": "' + b"a" * size + b'", "email": "a@example.com"}'


def chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """The body as a stream without Content-Length (chunked transfer encoding)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
