"""`python -m offline new-service`: what it writes, in a copy of the project's files, and what
it refuses before writing anything. (The whole workflow, with `make test` in a copy:
tests/test_workflow_add_a_service.py.)"""

from __future__ import annotations

import ast
import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.limits import FARGATE_MEMORY_BY_CPU
from config.schema import ServiceConfig
from offline.__main__ import main
from offline.delivery.scaffold import (
    PRODUCTION_TASKS,
    NewService,
    ScaffoldError,
    add_service_entry,
    plan_for,
    write,
)
from offline.render.environments import role_of, services_of
from offline.render.stackfile import PROJECT_DIR, available_stacks, read_stack_document
from services import CATALOG
from tests.split import split

PROJECT = "microservices"
# A service the catalog does not have yet (whatever it has by now), and a Cloud Map name and an
# image-only service no one uses.
NAME = next(f"ledger-{n}" for n in itertools.count(1) if f"ledger-{n}" not in CATALOG)
MODULE = NAME.replace("-", "_")
DISCOVERY = next(
    name
    for name in (f"ledgers{n}" for n in itertools.count(1))
    if name not in {spec.discovery_name for spec in CATALOG.values()}
)
IMAGE_ONLY = next(f"board-{n}" for n in itertools.count(1) if f"board-{n}" not in CATALOG)
# What the scaffold reads and edits; the rest of the project is not needed.
PARTS = ("Pulumi.yaml", "pyproject.toml", "services", "apps")


def project_files(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for part in PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(
                source, destination / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, destination / part)
    for stack in available_stacks():
        shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", destination)
    return destination


def new(name: str = NAME, **options: Any) -> NewService:
    return NewService(name=name, discovery_name=options.pop("discovery_name", DISCOVERY), **options)


def spec_calls(source: str) -> dict[str, Any]:
    """The keyword arguments of `SPEC = ServiceSpec(...)` in a module, as Python values."""
    (assignment,) = [n for n in ast.parse(source).body if isinstance(n, ast.Assign)]
    call = assignment.value
    assert isinstance(call, ast.Call)
    values: dict[str, Any] = {}
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Tuple) and any(
            isinstance(e, ast.Call) for e in keyword.value.elts
        ):
            values[keyword.arg or ""] = ast.unparse(keyword.value)
        else:
            values[keyword.arg or ""] = ast.literal_eval(keyword.value)
    return values


def expected_size(services: dict[str, Any], production: bool) -> dict[str, Any]:
    """The pair a stack's services set most, else the defaults; two tasks in production; only
    what differs from the defaults."""
    pairs = [
        (entry["cpu"], entry["memory"])
        for entry in services.values()
        if isinstance(entry, dict) and "cpu" in entry and "memory" in entry
    ]
    defaults = ServiceConfig()
    pair = max(sorted(set(pairs)), key=pairs.count) if pairs else (defaults.cpu, defaults.memory)
    entry: dict[str, Any] = {}
    if pair != (defaults.cpu, defaults.memory):
        entry = {"cpu": pair[0], "memory": pair[1]}
    if production:
        entry["desiredCount"] = PRODUCTION_TASKS
    return entry


def test_a_new_service_gets_its_spec_its_app_and_a_size_in_every_stack_file(
    tmp_path: Path,
) -> None:
    copy = project_files(tmp_path / "project")
    before = {stack: (copy / f"Pulumi.{stack}.yaml").read_text() for stack in available_stacks()}
    callee = sorted(CATALOG)[0]
    plan = plan_for(
        new(calls=(callee,), path_patterns=(f"/{DISCOVERY}/*",), table=True), copy, CATALOG
    )
    write(plan)

    spec = spec_calls((copy / "services" / f"{MODULE}.py").read_text())
    used = {route.priority for s in CATALOG.values() for route in s.routes}
    priority = next(p for p in range(100, 50000, 100) if p not in used)
    assert spec == {
        "name": NAME,
        "discovery_name": DISCOVERY,
        "container_name": DISCOVERY,
        "calls": (callee,),
        "routes": f"(RouteSpec(priority={priority}, path_patterns=('/{DISCOVERY}/*',)),)",
        "health_check_path": "/health",
        "build": f"apps/{NAME}",
        "user": "10001",
        "image_prepares_tmp": True,
        "table": True,
    }

    app = copy / "apps" / NAME
    template = sorted(
        d
        for d in (PROJECT_DIR / "apps").iterdir()
        if (d / "requirements.txt").exists() and d.name != "service-kit"
    )[0]
    # The app uses the shared library, installed by the one Dockerfile: no copy, no Dockerfile.
    assert sorted(p.relative_to(app).as_posix() for p in app.rglob("*") if p.is_file()) == [
        f"{MODULE}/__init__.py",
        f"{MODULE}/__main__.py",
        f"{MODULE}/main.py",
        "requirements.txt",
    ]
    assert "from service_kit import serve" in (app / MODULE / "__main__.py").read_text()
    assert "from service_kit import " in (app / MODULE / "main.py").read_text()
    pins = [line for line in (app / "requirements.txt").read_text().splitlines() if "==" in line]
    assert pins == [
        line for line in (template / "requirements.txt").read_text().splitlines() if "==" in line
    ]
    main_module = (app / MODULE / "main.py").read_text()
    url = CATALOG[callee].url_variable
    assert f'env_url(environ, "{url}")' in main_module
    assert 'env_required(environ, "TABLE_NAME")' in main_module
    assert f'"{MODULE}",' in (copy / "pyproject.toml").read_text()

    for stack in available_stacks():
        document = yaml.safe_load((copy / f"Pulumi.{stack}.yaml").read_text())["config"]
        original = read_stack_document(stack)
        if role_of(original, PROJECT) != "all-in-one":
            continue
        production = original.get(f"{PROJECT}:environment") == "production"
        entry = document[f"{PROJECT}:services"][NAME]
        assert entry == expected_size(services_of(original, PROJECT), production), stack
        size = {**ServiceConfig().model_dump(), **entry}
        assert size["memory"] in FARGATE_MEMORY_BY_CPU[size["cpu"]], stack
        # Only added to: every line of the stack file is still there, in order.
        lines = iter((copy / f"Pulumi.{stack}.yaml").read_text().splitlines())
        assert all(line in lines for line in before[stack].splitlines()), stack


def test_a_platform_stack_gets_a_service_stack_file_like_its_others(tmp_path: Path) -> None:
    project = split(tmp_path / "split")
    plan = plan_for(new(), project.directory, CATALOG)
    write(plan)
    written = project.directory / f"Pulumi.{project.platform}-{NAME}.yaml"
    document = yaml.safe_load(written.read_text())["config"]
    sibling = read_stack_document(project.service_stacks["order-service"], project.directory)
    assert document[f"{PROJECT}:platform"] == project.reference
    assert {k: v for k, v in document.items() if k.startswith("aws:")} == {
        k: v for k, v in sibling.items() if k.startswith("aws:")
    }
    platform = read_stack_document(project.platform, project.directory)
    production = platform.get(f"{PROJECT}:environment") == "production"
    siblings: dict[str, Any] = {}
    for stack in project.service_stacks.values():
        siblings.update(services_of(read_stack_document(stack, project.directory), PROJECT))
    assert document[f"{PROJECT}:services"] == {NAME: expected_size(siblings, production)}
    assert f"{PROJECT}:services" not in platform  # the platform's file is left alone


def test_an_image_of_its_own_writes_no_app(tmp_path: Path) -> None:
    copy = project_files(tmp_path / "project")
    image = "public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine"
    write(plan_for(new(IMAGE_ONLY, image=image, user="101"), copy, CATALOG))
    spec = spec_calls((copy / "services" / f"{IMAGE_ONLY.replace('-', '_')}.py").read_text())
    assert spec == {
        "name": IMAGE_ONLY,
        "discovery_name": DISCOVERY,
        "container_name": DISCOVERY,
        "image": image,
        "user": "101",
    }
    assert not (copy / "apps" / IMAGE_ONLY).exists()


@pytest.mark.parametrize(
    ("service", "message"),
    [
        (
            NewService(name=sorted(CATALOG)[0], discovery_name="fresh"),
            f"{sorted(CATALOG)[0]} is in the catalog already (services/)",
        ),
        (
            NewService(name="Payments", discovery_name="fresh"),
            "'Payments' is not a service name (allowed: lower-case letters and digits in words "
            "joined by '-', starting with a letter, at most 63 characters)",
        ),
        (
            NewService(name="class", discovery_name="fresh"),
            "'class' would make the module class, a Python keyword",
        ),
        (
            NewService(name="fresh", discovery_name="fresh", calls=("nobody",)),
            f"--calls nobody: not a service of the catalog (allowed: {', '.join(sorted(CATALOG))})",
        ),
        (
            NewService(name="fresh", discovery_name="fresh", image="x:1"),
            "--image and --user go together: the image, and the uid it runs as",
        ),
    ],
    ids=["taken", "upper-case", "keyword", "unknown-callee", "image-without-user"],
)
def test_what_cannot_be_added_is_refused_before_anything_is_written(
    tmp_path: Path, service: NewService, message: str
) -> None:
    copy = project_files(tmp_path / "project")
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    with pytest.raises(ScaffoldError) as raised:
        plan_for(service, copy, CATALOG)
    assert str(raised.value) == message
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == before


def test_a_cloud_map_name_and_a_priority_in_use_are_refused(tmp_path: Path) -> None:
    owner, spec = next((n, s) for n, s in CATALOG.items() if s.routes)
    priority = spec.routes[0].priority
    with pytest.raises(ScaffoldError) as raised:
        plan_for(
            NewService(
                name="fresh",
                discovery_name=spec.discovery_name,
                path_patterns=("/fresh/*",),
                priority=priority,
            ),
            project_files(tmp_path / "project"),
            CATALOG,
        )
    assert str(raised.value) == (
        f"Cloud Map name {spec.discovery_name!r} is {owner}'s (allowed: a name no service uses; "
        f"choose one with --discovery-name); --priority {priority}: {owner} has it already"
    )


def test_the_command_says_why_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    taken = sorted(CATALOG)[0]
    assert main(["new-service", taken]) == 2
    assert capsys.readouterr().err == (
        f"error: {taken} is in the catalog already (services/); nothing was written\n"
    )


STACK_FILE = """# a comment that stays
config:
  aws:region: us-east-1
  microservices:services:
    # the first service
    first:
      cpu: 512
      memory: 1024

    second: {}
  microservices:logs:
    retentionDays: 30
"""


def test_an_entry_is_added_as_text_keeping_comments_and_order() -> None:
    text = add_service_entry(STACK_FILE, "microservices:services", "third", {"cpu": 512})
    assert text.splitlines() == [
        *STACK_FILE.splitlines()[:9],
        "    second: {}",
        "    third:  # the defaults: memory 512, desiredCount 1",
        "      cpu: 512",
        *STACK_FILE.splitlines()[10:],
    ]
    without = STACK_FILE.replace("  microservices:services:\n", "  microservices:other:\n")
    added = add_service_entry(without, "microservices:services", "third", {})
    assert added.endswith(
        "  microservices:services:\n    third: {}  # the defaults: cpu 256, memory 512, "
        "desiredCount 1\n"
    )
    with pytest.raises(ScaffoldError, match="no `config:` block"):
        add_service_entry("other: 1\n", "microservices:services", "third", {})
