"""The offline preview's JSON document, diff and graph, as a reviewer uses them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from offline import document
from offline.__main__ import main
from offline.diff import diff
from offline.harness import Rendering, render
from tests.conftest import render_with

PROJECT = Path(__file__).resolve().parent.parent
CIPHERTEXT = "v1:c2VjcmV0LWNpcGhlcnRleHQtdGhhdC1tdXN0LW5vdC1sZWFr"


def run_cli(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def project_copy(tmp_path: Path) -> Path:
    """A working copy of the project (without its virtualenv) to change freely."""
    copy = tmp_path / "project"
    shutil.copytree(
        PROJECT,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".*_cache", "tests"),
    )
    return copy


# --- the JSON document -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_document_matches_its_schema(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    schema = json.loads(document.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document.to_document(rendering), schema)


def test_document_is_deterministic(dev: Rendering) -> None:
    assert document.dumps(render("dev")) == document.dumps(dev)


def test_document_round_trips(prod: Rendering) -> None:
    loaded = document.from_document(json.loads(document.dumps(prod)))
    assert document.dumps(loaded) == document.dumps(prod)


def test_preview_json_on_stdout(capsys: pytest.CaptureFixture[str], dev: Rendering) -> None:
    assert main(["preview", "--stack", "dev", "--json"]) == 0
    assert capsys.readouterr().out == document.dumps(dev)


def test_document_rejects_other_versions(tmp_path: Path) -> None:
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps({"schemaVersion": 99}))
    with pytest.raises(document.DocumentError, match="schemaVersion 99 is not supported"):
        document.load(saved)


def test_document_of_version_1_still_reads(tmp_path: Path, dev: Rendering) -> None:
    # A base branch may have saved its document before version 2 (no `config`, no
    # `retainOnDelete`): a pull request must still compare against it.
    old = document.to_document(dev)
    old["schemaVersion"] = 1
    del old["config"]
    for resource in old["resources"]:
        del resource["options"]["retainOnDelete"]
    saved = tmp_path / "v1.json"
    saved.write_text(json.dumps(old))
    loaded = document.load(saved)
    assert loaded.config == {}
    assert [r.urn for r in loaded.resources] == [r.urn for r in dev.resources]
    assert diff(loaded, dev).changed == ()


# --- diff ------------------------------------------------------------------------------------


def test_diff_of_a_stack_with_itself_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "prod", "prod"]) == 0
    assert capsys.readouterr().out == "prod → prod: no changes\n"


def test_diff_dev_prod_lines_up_resources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "dev", "prod"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("dev → prod: ")
    assert "~ aws:ecs/service:Service  <stack>-order-service-ecs\n" in text
    assert "      desiredCount: 1 → 3\n" in text
    assert "+ aws:lb/listener:Listener  <stack>-ingress-https\n" in text
    # Names and values with the stack's name line up: microservices-dev, dev.internal, ...
    for literal in ("dev.internal", "prod.internal", "microservices-dev", "microservices-prod"):
        assert literal not in text
    assert text.endswith("<stack> stands for each side's stack name in names and values.\n")


def test_one_config_change_shows_as_one_property(
    tmp_path: Path, prod: Rendering, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "prod.json"
    saved.write_text(document.dumps(prod))
    changed = tmp_path / "prod-changed.json"
    changed.write_text(
        document.dumps(render_with("prod", [("services.order-service.autoscaling.maxCount", "12")]))
    )
    assert main(["diff", str(saved), str(changed)]) == 1
    assert capsys.readouterr().out == (
        f"{saved} → {changed}: 0 to add, 0 to remove, 1 to change, 0 to replace, "
        "0 will conflict\n"
        "\n"
        "~ aws:appautoscaling/target:Target  prod-order-service-scaling\n"
        "      maxCapacity: 10 → 12\n"
        "\n"
        "~ updates in place, +- replaces (creates the new one, then deletes the old).\n"
    )


def test_environment_variable_change_is_found_inside_the_container_json(
    dev: Rendering,
) -> None:
    from offline.diff import PropertyChange, diff

    changed = render_with("dev", [("services.order-service.environment.LOG_LEVEL", "info")])
    result = diff(dev, changed)
    path = "containerDefinitions[1].environment[0].value"
    assert [(r.name, changes) for r, changes in result.changed] == [
        ("dev-order-service-task", (PropertyChange(path=path, old="debug", new="info"),))
    ]
    # A new revision of the task definition, which the service then runs.
    [(task, _)] = result.changed
    assert result.replacements[task.urn].forced_by == (path,)
    assert [r.name for r, _ in result.touched()] == ["dev-order-service-ecs", task.name]


def test_markdown_diff(tmp_path: Path, prod: Rendering, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "prod.json"
    saved.write_text(document.dumps(prod))
    assert main(["diff", str(saved), "dev", "--format", "markdown"]) == 1
    text = capsys.readouterr().out
    assert text.startswith(f"### Offline diff: `{saved}` → `dev`\n")
    assert (
        "| `~` | `aws:ecs/service:Service <stack>-order-service-ecs` | `desiredCount` | `3` | `1` |"
        in text
    )


def test_added_service_is_one_group_of_new_resources(tmp_path: Path, dev: Rendering) -> None:
    copy = project_copy(tmp_path)
    (copy / "services" / "billing_service.py").write_text(
        "from services.spec import ServiceSpec\n\n"
        "SPEC = ServiceSpec(\n"
        '    name="billing-service", discovery_name="billing", container_name="billing"\n'
        ")\n"
    )
    result = run_cli("preview", "--stack", "dev", "--json", cwd=copy)
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "with-billing.json"
    saved.write_text(result.stdout)

    from offline.diff import diff

    changes = diff(dev, document.load(saved))
    assert not changes.removed and not changes.changed
    # Two new components: how the service is reached (its endpoint) and how it runs.
    components = {r.type: r for r in changes.added if not r.custom}
    assert set(components) == {
        "microservices:endpoint:ServiceEndpoint",
        "microservices:ecs_service:EcsService",
    }
    assert {c.name for c in components.values()} == {"dev-billing-service"}
    parents = {c.urn for c in components.values()}
    assert all(not r.custom or r.parent in parents for r in changes.added)
    assert sorted(r.name.removeprefix("dev-billing-service") for r in changes.added) == [
        "",  # the endpoint
        "",  # the runtime
        "-discovery",
        "-ecs",
        "-egress-https",
        "-execution-policy",
        "-execution-role",
        "-logs",
        "-sg",
        "-task",
        "-task-role",
    ]


def test_diff_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "dev", "staging"]) == 2
    assert capsys.readouterr().err == (
        "error: 'staging' is neither a saved document nor a stack (stacks: dev, prod)\n"
    )
    assert main(["diff", "dev", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err


# --- graph -----------------------------------------------------------------------------------

EDGES = {
    ("internet", "alb"),
    ("alb", "svc_api_gateway"),
    ("svc_api_gateway", "svc_user_service"),
    ("svc_api_gateway", "svc_order_service"),
    ("svc_order_service", "svc_user_service"),
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_mermaid_graph_edges(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--stack", stack]) == 0
    text = capsys.readouterr().out
    assert text.startswith("flowchart LR\n")
    assert set(re.findall(r"^  (\w+) -->\|.*\| (\w+)$", text, re.MULTILINE)) == EDGES
    assert f'|"users.{stack}.internal:8080"| svc_user_service' in text
    assert '-->|"/* (priority 50000)"| svc_api_gateway' in text


def test_dot_graph_edges(tmp_path: Path) -> None:
    output = tmp_path / "prod.dot"
    assert main(["graph", "--stack", "prod", "--format", "dot", "-o", str(output)]) == 0
    text = output.read_text()
    assert set(re.findall(r"^  (\w+) -> (\w+) \[", text, re.MULTILINE)) == EDGES
    assert 'label="Internet"' in text
    assert "tasks 3 (3..10)" in text and "cpu/mem 512/1024" in text
    assert 'internet -> alb [label="HTTPS 443, HTTP 80→443"];' in text


def test_images_without_graphviz_fail_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert main(["graph", "--format", "svg"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: --format svg needs Graphviz's `dot`, which is not installed"
    )


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_never_appear_in_any_output(tmp_path: Path) -> None:
    copy = project_copy(tmp_path)
    stack = (copy / "Pulumi.dev.yaml").read_text()
    # A provider secret the program never reads: previews work and never show it.
    stack = stack.replace(
        "  aws:region: us-east-1\n",
        f"  aws:region: us-east-1\n  aws:secretKey:\n    secure: {CIPHERTEXT}\n",
    )
    (copy / "Pulumi.dev.yaml").write_text(stack)
    outputs = [
        run_cli("preview", "--stack", "dev", cwd=copy),
        run_cli("preview", "--stack", "dev", "--json", cwd=copy),
        run_cli("diff", "dev", "prod", cwd=copy),
        run_cli("diff", "dev", "prod", "--format", "markdown", cwd=copy),
        run_cli("graph", "--stack", "dev", cwd=copy),
    ]
    assert [result.returncode for result in outputs] == [0, 0, 1, 1, 0]
    for result in outputs:
        assert CIPHERTEXT not in result.stdout + result.stderr


def test_secret_program_config_is_refused_without_showing_it(tmp_path: Path) -> None:
    copy = project_copy(tmp_path)
    stack = (copy / "Pulumi.dev.yaml").read_text()
    stack = stack.replace(
        "      environment:\n        LOG_LEVEL: debug\n",
        "      environment:\n        LOG_LEVEL: debug\n"
        f"        DB_PASSWORD:\n          secure: {CIPHERTEXT}\n",
    )
    (copy / "Pulumi.dev.yaml").write_text(stack)
    result = run_cli("preview", "--stack", "dev", "--json", cwd=copy)
    assert result.returncode == 2
    assert result.stdout == ""
    assert CIPHERTEXT not in result.stderr and "[secret]" not in result.stderr
    # The message names the nested key, and its fix removes that key alone.
    assert result.stderr.splitlines()[1] == (
        "  services.order-service.environment.DB_PASSWORD: is stored as a secret, but nothing "
        "in this config may be secret: values reach the task definition in plain text "
        "(allowed: plain values; keep a secret in Secrets Manager or SSM and name its ARN "
        "under services.<name>.secrets); fix: pulumi config rm --path "
        "'services.order-service.environment.DB_PASSWORD', then set it again without --secret"
    )


def test_readme_shows_the_current_prod_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--stack", "prod"]) == 0
    graph = capsys.readouterr().out
    readme = (PROJECT / "README.md").read_text()
    shown = readme.split("<!-- graph: prod -->\n```mermaid\n", 1)[1].split("```\n<!-- /graph")[0]
    assert shown == graph, "README's graph is stale: paste `make graph STACK=prod`"
