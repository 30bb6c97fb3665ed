"""The offline preview's JSON document, diff and graph, as a reviewer uses them."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from offline.__main__ import main
from offline.change import diff
from offline.estimates import cost
from offline.preview import document
from offline.render.environments import environment_document
from offline.render.harness import Rendering, render
from offline.render.stackfile import available_stacks
from services import CATALOG
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


def test_diff_dev_prod_lines_up_resources(
    all_in_one: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    # Two more tasks at the top of the band: only the high end of the cost moves.
    spending = cost.compare(document.load(saved), document.load(changed))
    assert spending.delta.low == 0 and spending.delta.high > 0
    assert capsys.readouterr().out == (
        f"{saved} → {changed}: 0 to add, 0 to remove, 1 to change, 0 to replace, "
        "0 will conflict\n"
        "\n"
        f"{cost.change_text(spending)}\n"
        + "".join(f"    {category}\n" for category in cost.change_categories(spending))
        + "\n"
        "~ aws:appautoscaling/target:Target  prod-order-service-scaling\n"
        "      maxCapacity: 10 → 12\n"
        "\n"
        "~ updates in place, +- replaces (creates the new one, then deletes the old).\n"
    )


def test_environment_variable_change_is_found_inside_the_container_json(
    dev: Rendering,
) -> None:
    from offline.change import PropertyChange, diff

    changed = render_with("dev", [("services.order-service.environment.LOG_LEVEL", "info")])
    result = diff(dev, changed)
    containers = json.loads(dev.named("dev-order-service-task").inputs["containerDefinitions"])
    index = next(i for i, c in enumerate(containers) if c["essential"])
    variables = [v["name"] for v in containers[index]["environment"]]
    path = f"containerDefinitions[{index}].environment[{variables.index('LOG_LEVEL')}].value"
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

    from offline.change import diff

    changes = diff(dev, document.load(saved))
    assert not changes.removed
    # The dashboard is generated from the catalog: the new service gets its row.
    assert [r.name for r, _ in changes.changed] == ["dev-dashboard"]
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
        "-alarm-cpu-high",
        "-alarm-memory-high",
        "-alarm-running-tasks-low",
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
        "error: 'staging' is neither a saved document nor a stack (stacks: "
        f"{', '.join(available_stacks())})\n"
    )
    assert main(["diff", "dev", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err


# --- graph -----------------------------------------------------------------------------------

ROUTED = tuple(name for name, spec in CATALOG.items() if spec.routes)


def node(service: str) -> str:
    return "svc_" + re.sub(r"[^A-Za-z0-9]", "_", service)


# The architecture the catalog describes: the internet reaches the ALB, the ALB each routed
# service, and each service the services it calls.
EDGES = {
    ("internet", "alb"),
    *(("alb", node(name)) for name in ROUTED),
    *((node(caller), node(callee)) for caller, spec in CATALOG.items() for callee in spec.calls),
}


def route_labels(service: str) -> set[str]:
    return {
        f"{' '.join((*route.path_patterns, *route.host_patterns))} (priority {route.priority})"
        for route in CATALOG[service].routes
    }


def tasks_and_size(stack: str, service: str) -> tuple[str, str]:
    """A graph node's `tasks` and `cpu/mem` lines, from the stack file and the defaults."""
    services = environment_document(stack).get("microservices:services") or {}
    config: dict[str, Any] = services.get(service) or {}
    desired = config.get("desiredCount", 1)
    band = config.get("autoscaling")
    count = f"({band['minCount']}..{band['maxCount']})" if band else "(fixed)"
    size = f"{config.get('cpu', 256)}/{config.get('memory', 512)}"
    return f"tasks {desired} {count}", f"cpu/mem {size}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_mermaid_graph_edges(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--stack", stack]) == 0
    text = capsys.readouterr().out
    assert text.startswith("flowchart LR\n")
    labels = {
        (source, target): label
        for source, label, target in re.findall(
            r'^  (\w+) -->\|"(.*)"\| (\w+)$', text, re.MULTILINE
        )
    }
    assert set(labels) == EDGES
    assert labels[("svc_order_service", "svc_user_service")] == f"users.{stack}.internal:8080"
    assert labels[("alb", "svc_api_gateway")] == "/* (priority 50000)"
    for name in ROUTED:
        assert set(labels[("alb", node(name))].split(", ")) == route_labels(name), name
    for caller, spec in CATALOG.items():
        for callee in spec.calls:
            callee_spec = CATALOG[callee]
            assert labels[(node(caller), node(callee))] == (
                f"{callee_spec.discovery_name}.{stack}.internal:{callee_spec.container_port}"
            )


def test_dot_graph_edges(tmp_path: Path) -> None:
    output = tmp_path / "prod.dot"
    assert main(["graph", "--stack", "prod", "--format", "dot", "-o", str(output)]) == 0
    text = output.read_text()
    calls = set(re.findall(r'^  (\w+) -> (\w+) \[label="[^"]*"\];$', text, re.MULTILINE))
    assert calls == EDGES
    # The events' edges, dashed: publisher -> its topic -> subscriber.
    topic = "topic_microservices_prod_user_service_events_fifo"
    assert set(re.findall(r"^  (\w+) -> (\w+) \[.*style=dashed\];$", text, re.MULTILINE)) == {
        (node("user-service"), topic),
        (topic, node("order-service")),
    }
    assert 'label="Internet"' in text
    assert "tasks 3 (3..10)" in text and "cpu/mem 512/1024" in text
    for name, spec in CATALOG.items():
        tasks, size = tasks_and_size("prod", name)
        label = "\\n".join((name, f"{spec.discovery_name}.prod.internal", tasks, size))
        assert f'  {node(name)} [shape=box, label="{label}"];' in text, name
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


@pytest.mark.slow  # five command-line runs in a copy of the project
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


# --- generated docs (make docs) -------------------------------------------------------------


def _load_gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", PROJECT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module
    spec.loader.exec_module(module)
    return module


gen_docs = _load_gen_docs()


def readme_section(start: str, end: str) -> str:
    readme = (PROJECT / "README.md").read_text()
    assert start in readme, f"README.md has no {start} marker"
    return readme.split(start, 1)[1].split(end, 1)[0]


def test_readme_shows_the_current_prod_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--stack", "prod"]) == 0
    graph = capsys.readouterr().out
    shown = readme_section("<!-- graph: prod -->\n", "<!-- /graph -->")
    assert shown == f"```mermaid\n{graph}```\n", "README's graph of prod is stale: run `make docs`"


def test_readme_services_table_is_current() -> None:
    shown = readme_section("<!-- services -->\n", "<!-- /services -->")
    assert shown == gen_docs.services_table(CATALOG), (
        "README's services table is stale: run `make docs`"
    )


def test_services_table_follows_the_specs() -> None:
    lines = gen_docs.services_table(CATALOG).splitlines()
    assert lines[0] == (
        "| service (ECS name) | Cloud Map name | container | port | public route | calls |"
    )
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]
    names = [row[0].strip("`") for row in rows]
    assert sorted(names) == sorted(CATALOG)
    for caller, spec in CATALOG.items():
        for callee in spec.calls:
            # A reader meets each service before the services that call it.
            assert names.index(callee) < names.index(caller), (callee, caller)
    for name, discovery, container_name, port, route, calls in rows:
        spec = CATALOG[name.strip("`")]
        assert (discovery, container_name) == (
            f"`{spec.discovery_name}`",
            f"`{spec.container_name}`",
        )
        assert port == str(spec.container_port)
        assert calls == (", ".join(f"`{c}`" for c in spec.calls) or "none")
        if not spec.routes:
            assert route == "none", name
        for each in spec.routes:
            assert f"priority {each.priority}" in route, name
            for pattern in (*each.path_patterns, *each.host_patterns):
                assert f"`{pattern}`" in route, name
    gateway = next(row for row in rows if row[0] == "`api-gateway`")
    assert gateway[4] == "ALB `/*`, priority 50000 (lowest precedence)"


def docs_copy(tmp_path: Path) -> Path:
    """The files `make docs` writes, copied, to change freely."""
    for path in ("README.md", "docs/security.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT / path, tmp_path / path)
    return tmp_path


def test_make_docs_rewrites_only_what_is_between_markers(tmp_path: Path) -> None:
    root = docs_copy(tmp_path)
    # The two tables; the graph needs a render, which the other tests cover.
    tables = tuple(s for s in gen_docs.SECTIONS if s.start != "<!-- graph: prod -->")
    assert [s.start for s in tables] == ["<!-- services -->", "<!-- controls -->"]
    for section in tables:
        path = root / section.path
        text = path.read_text()
        path.write_text(text.replace(gen_docs.current(root, section), "| stale |\n"))
    before = {s.path: (root / s.path).read_text() for s in tables}

    stale = gen_docs.stale_sections(root, tables)
    assert [section for section, _ in stale] == list(tables)
    gen_docs.write(root, stale)
    assert gen_docs.stale_sections(root, tables) == []
    for section in tables:
        # Everything outside the markers is as it was.
        after = (root / section.path).read_text()
        restored = after.replace(gen_docs.current(root, section), "| stale |\n")
        assert restored == before[section.path]


def test_make_docs_check_lists_stale_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = docs_copy(tmp_path)
    tables = tuple(s for s in gen_docs.SECTIONS if s.start != "<!-- graph: prod -->")
    monkeypatch.setattr(gen_docs, "PROJECT", root)
    monkeypatch.setattr(gen_docs, "SECTIONS", tables)
    assert gen_docs.main(["--check"]) == gen_docs.EXIT_OK
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("| `user-service` |", "| `users-service` |"))
    assert gen_docs.main(["--check"]) == gen_docs.EXIT_STALE
    assert capsys.readouterr().out == (
        "stale: README.md <!-- services -->\nrun `make docs` to regenerate them\n"
    )
    text = readme.read_text()
    assert gen_docs.main([]) == gen_docs.EXIT_OK
    assert readme.read_text() != text
    assert gen_docs.main(["--check"]) == gen_docs.EXIT_OK


def test_make_docs_names_a_missing_file_or_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = docs_copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("<!-- /services -->", ""))
    (root / "docs" / "security.md").unlink()
    monkeypatch.setattr(gen_docs, "PROJECT", root)
    written = readme.read_text()
    for argv in (["--check"], []):
        assert gen_docs.main(argv) == gen_docs.EXIT_ERROR
        assert capsys.readouterr().err.splitlines() == [
            "error: README.md: marker <!-- /services --> is missing after <!-- services -->",
            "error: docs/security.md: file is missing (it holds <!-- controls -->)",
        ]
    assert readme.read_text() == written  # nothing half-written
