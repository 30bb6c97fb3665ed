"""A new service end to end: `python -m offline new-service <name>` (`make service NAME=...`).

Writes, after checking the name and the options against the catalog and touching nothing
before every check passes:

- `services/<module>.py`: the service's spec (README.md, "Adding a service");
- `apps/<name>/`: an application from the same template as the others: `GET /health`, JSON
  logs with request and trace ids, OpenTelemetry traces (all from the shared library
  `service_kit`, which the one `apps/Dockerfile` installs into every image, running it as uid
  10001 with its own `/tmp`), and pinned requirements. `--image` runs an existing image
  instead, and writes no app;
- its size in every committed stack file: a valid Fargate cpu/memory pair (the one the
  stack's services use most, else the defaults) and, in production, two tasks. A stack file
  is edited as text, so its comments stay; a platform stack gets a service stack file of the
  new service, like its other service stacks'; a service stack file is left alone;
- the README's graph and services table (`scripts/gen_docs.py`, in a new interpreter, which
  imports the catalog with the new module in it).
"""

from __future__ import annotations

import argparse
import copy
import keyword
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.limits import FARGATE_MEMORY_BY_CPU, LISTENER_PRIORITY_RANGE
from config.schema import ServiceConfig
from offline.render.environments import platform_stack_of, role_of, services_of
from offline.render.stackfile import available_stacks, project_name, read_stack_document
from services import CATALOG, ServiceSpec

EXIT_OK = 0
EXIT_USER_ERROR = 2
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
"""Lower-case words joined by hyphens: an ECS service name, a config key, a DNS label, and,
with underscores, a Python module name."""
DNS_LABEL_MAX = 63
APP_USER = "10001"
"""The uid the apps' images run as (apps/Dockerfile's `USER`)."""
PRODUCTION_TASKS = 2
"""Production warns about a service that can run on a single task (config/rules/production.py)."""
DOCKERFILE = "Dockerfile"
"""The one Dockerfile, in apps/, that builds every app's image."""
SHARED_LIBRARY = "service-kit"
"""The library every app imports (apps/service-kit/service_kit), installed, never copied."""


class ScaffoldError(Exception):
    """The service cannot be added as asked; nothing was written."""


@dataclass(frozen=True, kw_only=True)
class NewService:
    name: str
    discovery_name: str
    calls: tuple[str, ...] = ()
    path_patterns: tuple[str, ...] = ()
    priority: int | None = None
    table: bool = False
    image: str | None = None
    """An existing image to run; None: an app of its own under apps/<name>/."""
    user: str | None = None

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def package(self) -> str:
        return self.module


@dataclass
class Plan:
    """Every file the scaffold writes, with its new text, and what to tell the user."""

    files: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- checks ------------------------------------------------------------------------------------


def default_discovery_name(name: str) -> str:
    """`payment-service` -> `payment`: the Cloud Map name without the `-service` suffix."""
    return name.removesuffix("-service") or name


def check(new: NewService, catalog: Mapping[str, ServiceSpec], project_dir: Path) -> None:
    problems = []
    if not SERVICE_NAME.fullmatch(new.name) or len(new.name) > DNS_LABEL_MAX:
        problems.append(
            f"{new.name!r} is not a service name (allowed: lower-case letters and digits in "
            f"words joined by '-', starting with a letter, at most {DNS_LABEL_MAX} characters)"
        )
    elif keyword.iskeyword(new.module):
        problems.append(f"{new.name!r} would make the module {new.module}, a Python keyword")
    if new.name in catalog:
        problems.append(f"{new.name} is in the catalog already (services/)")
    if not SERVICE_NAME.fullmatch(new.discovery_name) or len(new.discovery_name) > DNS_LABEL_MAX:
        problems.append(
            f"Cloud Map name {new.discovery_name!r} is not a DNS label (allowed: lower-case "
            "letters, digits and '-', at most 63 characters)"
        )
    taken = {spec.discovery_name: name for name, spec in catalog.items()}
    if new.discovery_name in taken:
        problems.append(
            f"Cloud Map name {new.discovery_name!r} is {taken[new.discovery_name]}'s (allowed: "
            "a name no service uses; choose one with --discovery-name)"
        )
    for callee in new.calls:
        if callee not in catalog:
            problems.append(
                f"--calls {callee}: not a service of the catalog (allowed: "
                f"{', '.join(sorted(catalog))})"
            )
    for pattern in new.path_patterns:
        if not pattern.startswith("/"):
            problems.append(f"--route {pattern!r}: a path pattern starts with '/'")
    if new.priority is not None:
        used = {route.priority: name for name, spec in catalog.items() for route in spec.routes}
        low, high = LISTENER_PRIORITY_RANGE
        if not low <= new.priority <= high:
            problems.append(f"--priority {new.priority}: out of range (allowed: {low}..{high})")
        elif new.priority in used:
            problems.append(f"--priority {new.priority}: {used[new.priority]} has it already")
    if (new.image is None) != (new.user is None):
        problems.append("--image and --user go together: the image, and the uid it runs as")
    paths = [project_dir / "services" / f"{new.module}.py"]
    if new.image is None:
        paths.append(project_dir / "apps" / new.name)
    for path in paths if new.name not in catalog else ():
        if path.exists():
            problems.append(f"{path.relative_to(project_dir)} exists already")
    if problems:
        raise ScaffoldError("; ".join(problems))


def free_priority(catalog: Mapping[str, ServiceSpec]) -> int:
    """The first multiple of 100 no route of the catalog uses."""
    used = {route.priority for spec in catalog.values() for route in spec.routes}
    return next(p for p in range(100, LISTENER_PRIORITY_RANGE[1], 100) if p not in used)


# --- the spec ----------------------------------------------------------------------------------


def spec_module(new: NewService, priority: int | None) -> str:
    imports = ["ServiceSpec"]
    lines = [
        f'    name="{new.name}",  # the ECS service name and the key under `services` in config',
        f'    discovery_name="{new.discovery_name}",  # {new.discovery_name}.<namespace>',
        f'    container_name="{new.discovery_name}",',
    ]
    if new.calls:
        calls = ", ".join(f'"{callee}"' for callee in new.calls)
        lines.append(f"    calls=({calls},),  # each callee's URL in <CALLEE>_URL")
    if new.path_patterns:
        imports.insert(0, "RouteSpec")
        patterns = ", ".join(f'"{pattern}"' for pattern in new.path_patterns)
        lines.append(f"    routes=(RouteSpec(priority={priority}, path_patterns=({patterns},)),),")
    if new.image is not None:
        lines += [
            f'    image="{new.image}",',
            f'    user="{new.user}",  # the uid the image runs as',
        ]
    else:
        lines += [
            '    health_check_path="/health",',
            f'    build="apps/{new.name}",  # `pulumi up` builds the image from this directory',
            f'    user="{APP_USER}",  # the uid the image runs as (apps/Dockerfile\'s USER)',
            "    image_prepares_tmp=True,  # the image declares VOLUME /tmp owned by that uid",
        ]
    if new.table:
        lines.append("    table=True,  # a DynamoDB table of its own, named in TABLE_NAME")
    return (
        f"from services.spec import {', '.join(imports)}\n\nSPEC = ServiceSpec(\n"
        + "\n".join(lines)
        + "\n)\n"
    )


# --- the app -----------------------------------------------------------------------------------

INIT = '"""{name}: {summary}"""\n'

MAIN_MODULE = '''"""`python -m {package}`: serve on PORT (8080) with the environment's settings."""

import sys

from service_kit import serve

from .main import SERVICE, Settings, create_app

if __name__ == "__main__":
    sys.exit(serve(SERVICE, Settings.from_env, create_app))
'''

APP_MODULE = '''"""{name}'s HTTP API: `GET /health`. Add its routes in create_app."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from service_kit import {imports}

SERVICE = "{name}"


@dataclass(frozen=True)
class Settings:
    """What the task definition gives the service; a missing or malformed variable stops it at
    start (exit code 2)."""
{fields}
    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls({arguments})


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """`tracer_provider`: the global one unless given (tests give their own)."""
    logger = logging.getLogger(SERVICE)
    app = FastAPI(title=SERVICE, openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(RequestContext, logger=logger)
    instrument_app(app, tracer_provider)

    @app.get("/health")
    def health() -> dict[str, str]:
        # No downstream call: a task is healthy when it serves, whatever its callees do.
        return {{"status": "ok"}}

    return app
'''


def _settings_fields(new: NewService, catalog: Mapping[str, ServiceSpec]) -> list[tuple[str, str]]:
    """(field, call reading it from `environ`) for each variable the task gives the app."""
    found = []
    for callee in new.calls:
        variable = catalog[callee].url_variable
        found.append((variable.lower(), f'env_url(environ, "{variable}")'))
    if new.table:
        found.append(("table_name", 'env_required(environ, "TABLE_NAME")'))
        found.append(("region", "env_region(environ)"))
    return found


def app_module(new: NewService, catalog: Mapping[str, ServiceSpec]) -> str:
    fields = _settings_fields(new, catalog)
    helpers = sorted({reader.split("(")[0] for _, reader in fields})
    imports = ["RequestContext", *helpers, "install_error_handlers", "instrument_app"]
    return APP_MODULE.format(
        name=new.name,
        imports=", ".join(imports),
        fields=("\n" if fields else "") + "".join(f"    {name}: str\n" for name, _ in fields),
        arguments=", ".join(f"{name}={reader}" for name, reader in fields),
    )


def template_app(project_dir: Path) -> Path:
    """The app the new one's pins come from: the first under apps/ (by name) with
    requirements.txt and a package that `python -m` runs; the shared Dockerfile and library
    must be there too."""
    apps = project_dir / "apps"
    if not (apps / DOCKERFILE).is_file() or not (apps / SHARED_LIBRARY).is_dir():
        raise ScaffoldError(
            f"apps/ has no {DOCKERFILE} and {SHARED_LIBRARY}/ to build an app with; use --image "
            "to run an existing image"
        )
    for directory in sorted(d for d in apps.iterdir() if d.name != SHARED_LIBRARY):
        if (directory / "requirements.txt").is_file() and list(directory.glob("*/__main__.py")):
            return directory
    raise ScaffoldError(
        "no app under apps/ to start from (a directory with requirements.txt and a package "
        "with a __main__.py); use --image to run an existing image"
    )


def _requirements(text: str, new: NewService, template: str) -> str:
    pins = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = [
        f"# {new.name}'s image: every package pinned, so that a rebuild installs the same code.",
        f"# Started from {template}'s pins (FastAPI, uvicorn, OpenTelemetry and what they",
        "# require); drop what neither the service nor service-kit imports (service-kit's",
        "# pyproject.toml lists its own, which stay pinned here exactly so), and pin what it",
        "# adds. The project's requirements.txt admits these versions for the tests.",
    ]
    return "\n".join([*header, *pins]) + "\n"


def app_files(
    new: NewService, catalog: Mapping[str, ServiceSpec], project_dir: Path, plan: Plan
) -> None:
    template = template_app(project_dir)
    destination = project_dir / "apps" / new.name
    package = destination / new.package
    requirements = (template / "requirements.txt").read_text()
    plan.files[destination / "requirements.txt"] = _requirements(requirements, new, template.name)
    summary = f"a service of the catalog (services/{new.module}.py)."
    plan.files[package / "__init__.py"] = INIT.format(name=new.name, summary=summary)
    plan.files[package / "__main__.py"] = MAIN_MODULE.format(package=new.package)
    plan.files[package / "main.py"] = app_module(new, catalog)


def first_party(text: str, package: str) -> str | None:
    """pyproject.toml with `package` among ruff's known-first-party names (the apps' packages,
    which tests import), in order; None if the list is not where it is expected."""
    match = re.search(r"known-first-party = \[\n(?P<items>(?:    \"[^\"]+\",\n)*)\]", text)
    if match is None:
        return None
    names = sorted({*re.findall(r'"([^"]+)"', match["items"]), package})
    items = "".join(f'    "{name}",\n' for name in names)
    return text[: match.start("items")] + items + text[match.end("items") :]


# --- the stack files ---------------------------------------------------------------------------


def sizing(services: Mapping[str, Any], production: bool) -> dict[str, Any]:
    """The cpu/memory pair the stack's services set most often (the smaller on a tie), else
    the defaults; two tasks in production. A stack file holds only what differs from the
    defaults, so a default is left out (see default_note)."""
    pairs = Counter(
        (int(entry["cpu"]), int(entry["memory"]))
        for entry in services.values()
        if isinstance(entry, Mapping)
        and isinstance(entry.get("cpu"), int)
        and isinstance(entry.get("memory"), int)
        and entry["memory"] in FARGATE_MEMORY_BY_CPU.get(entry["cpu"], ())
    )
    defaults = ServiceConfig()
    cpu, memory = (
        min(pairs, key=lambda pair: (-pairs[pair], pair))
        if pairs
        else (defaults.cpu, defaults.memory)
    )
    entry: dict[str, Any] = {}
    if (cpu, memory) != (defaults.cpu, defaults.memory):
        entry.update(cpu=cpu, memory=memory)
    if production and defaults.desired_count < PRODUCTION_TASKS:
        entry["desiredCount"] = PRODUCTION_TASKS
    return entry


def default_note(entry: Mapping[str, Any]) -> str | None:
    """A comment naming the size an entry leaves to the defaults."""
    defaults = ServiceConfig()
    left = [
        f"{key} {value}"
        for key, value in (
            ("cpu", defaults.cpu),
            ("memory", defaults.memory),
            ("desiredCount", defaults.desired_count),
        )
        if key not in entry
    ]
    return f"# the defaults: {', '.join(left)}" if left else None


def _block_end(lines: Sequence[str], start: int, indent: int) -> int:
    """The index after the last line of the block opened at `start`."""
    end = start + 1
    last = start
    while end < len(lines):
        text = lines[end]
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            if len(text) - len(text.lstrip()) <= indent:
                break
            last = end
        end += 1
    return last + 1


def add_service_entry(text: str, key: str, name: str, entry: Mapping[str, Any]) -> str:
    """A stack file's text with `services.<name>` added under `key` (`<project>:services`),
    keeping its comments and layout; checked by reading it back."""
    lines = text.splitlines()
    before = yaml.safe_load(text) or {}
    config_line = next((i for i, line in enumerate(lines) if line.rstrip() == "config:"), None)
    if config_line is None:
        raise ScaffoldError("no `config:` block")
    opener = re.compile(rf"^(?P<indent>\s+){re.escape(key)}:\s*(#.*)?$")
    found = next(((i, m) for i, line in enumerate(lines) if (m := opener.match(line))), None)
    body = yaml.safe_dump({name: dict(entry)}, sort_keys=False).splitlines()
    note = default_note(entry)
    if note is not None:
        body[0] += f"  {note}"
    if found is not None:
        index, match = found
        indent = len(match["indent"])
        children = [
            line
            for line in lines[index + 1 : _block_end(lines, index, indent)]
            if line.strip() and not line.strip().startswith("#")
        ]
        child = len(children[0]) - len(children[0].lstrip()) if children else indent + 2
        end = _block_end(lines, index, indent)
        lines[end:end] = [" " * child + line for line in body]
    else:
        end = _block_end(lines, config_line, 0)
        child = 2
        lines[end:end] = [" " * child + f"{key}:", *(" " * (child + 2) + line for line in body)]
    result = "\n".join(lines) + "\n"
    expected = copy.deepcopy(before)
    expected["config"].setdefault(key, {})[name] = dict(entry)
    if yaml.safe_load(result) != expected:
        raise ScaffoldError(f"cannot add services.{name} to it as text; add it by hand")
    return result


def service_stack_file(
    platform: str,
    new: NewService,
    entry: Mapping[str, Any],
    documents: Mapping[str, Mapping[str, Any]],
    project: str,
) -> tuple[str, str]:
    """A service stack for the new service, like the platform's other service stacks: the
    same provider settings and platform reference (docs/split-stacks.md)."""
    siblings = sorted(
        name
        for name, document in documents.items()
        if role_of(document, project) == "service"
        and platform_stack_of(document, project) == platform
    )
    if not siblings:
        raise ScaffoldError(
            f"the platform stack {platform} has no service stack to take the platform reference "
            f"from; create Pulumi.{platform}-{new.name}.yaml as docs/split-stacks.md shows"
        )
    model = documents[siblings[0]]
    config = {key: copy.deepcopy(value) for key, value in model.items() if key.startswith("aws:")}
    config[f"{project}:platform"] = model[f"{project}:platform"]
    config[f"{project}:services"] = {new.name: dict(entry)}
    text = f"# {new.name}'s service stack of the platform {platform}.\n"
    return f"{platform}-{new.name}", text + yaml.safe_dump({"config": config}, sort_keys=False)


def stack_files(new: NewService, project_dir: Path, plan: Plan) -> None:
    project = project_name(project_dir)
    documents = {
        stack: read_stack_document(stack, project_dir) for stack in available_stacks(project_dir)
    }
    key = f"{project}:services"
    for stack, document in documents.items():
        role = role_of(document, project)
        if role == "service":
            continue
        production = document.get(f"{project}:environment") == "production"
        if role == "platform":
            siblings = {
                name: entry
                for other in documents.values()
                if role_of(other, project) == "service"
                and platform_stack_of(other, project) == stack
                for name, entry in services_of(other, project).items()
            }
            entry = sizing(siblings, production)
            name, text = service_stack_file(stack, new, entry, documents, project)
            plan.files[project_dir / f"Pulumi.{name}.yaml"] = text
            plan.notes.append(f"Pulumi.{name}.yaml: a service stack of {stack}, {_shown(entry)}")
            continue
        entry = sizing(services_of(document, project), production)
        path = project_dir / f"Pulumi.{stack}.yaml"
        try:
            plan.files[path] = add_service_entry(path.read_text(), key, new.name, entry)
        except ScaffoldError as error:
            raise ScaffoldError(f"{path.name}: {error}") from None
        plan.notes.append(f"{path.name}: services.{new.name}: {_shown(entry)}")


def _shown(entry: Mapping[str, Any]) -> str:
    shown = [f"{key} {value}" for key, value in entry.items()]
    note = default_note(entry)
    return ", ".join([*shown, *([note.removeprefix("# ")] if note else [])])


# --- the command -------------------------------------------------------------------------------


def plan_for(new: NewService, project_dir: Path, catalog: Mapping[str, ServiceSpec]) -> Plan:
    check(new, catalog, project_dir)
    plan = Plan()
    priority = new.priority
    if new.path_patterns and priority is None:
        priority = free_priority(catalog)
    module = project_dir / "services" / f"{new.module}.py"
    plan.files[module] = spec_module(new, priority)
    plan.notes.append(f"services/{new.module}.py: its spec")
    if new.image is None:
        app_files(new, catalog, project_dir, plan)
        plan.notes.append(
            f"apps/{new.name}/: its app (GET /health, JSON logs, traces; python -m {new.package})"
        )
        pyproject = project_dir / "pyproject.toml"
        if pyproject.is_file():
            updated = first_party(pyproject.read_text(), new.package)
            if updated is not None:
                plan.files[pyproject] = updated
    stack_files(new, project_dir, plan)
    return plan


def write(plan: Plan) -> None:
    for path, text in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def regenerate_docs(project_dir: Path) -> subprocess.CompletedProcess[str]:
    """`make docs`, in a new interpreter: this one's catalog predates the new module."""
    return subprocess.run(
        [sys.executable, str(project_dir / "scripts" / "gen_docs.py")],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )


def add_scaffold_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "new-service",
        help="add a service: its spec, its app, its size in every stack file, the docs",
        description="Add a service to the catalog end to end (README.md, Adding a service).",
    )
    parser.add_argument("name", help="the ECS service name, e.g. payment-service")
    parser.add_argument(
        "--discovery-name", help="its Cloud Map name (default: the name without -service)"
    )
    parser.add_argument(
        "--calls", action="append", default=[], metavar="SERVICE", help="a service it calls"
    )
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a path pattern the load balancer sends to it, e.g. '/payments/*'",
    )
    parser.add_argument("--priority", type=int, help="the route's listener rule priority")
    parser.add_argument("--table", action="store_true", help="it owns a DynamoDB table")
    parser.add_argument("--image", help="run this existing image instead of an app of its own")
    parser.add_argument("--user", help="with --image: the numeric uid the image runs as")


def run_scaffold(args: argparse.Namespace, project_dir: Path) -> int:
    new = NewService(
        name=args.name,
        discovery_name=args.discovery_name or default_discovery_name(args.name),
        calls=tuple(args.calls),
        path_patterns=tuple(args.route),
        priority=args.priority,
        table=args.table,
        image=args.image,
        user=args.user,
    )
    try:
        plan = plan_for(new, project_dir, CATALOG)
    except ScaffoldError as error:
        print(f"error: {error}; nothing was written", file=sys.stderr)
        return EXIT_USER_ERROR
    write(plan)
    print(f"added {new.name}:")
    for note in plan.notes:
        print(f"  {note}")
    docs = regenerate_docs(project_dir)
    if docs.returncode != 0:
        print(docs.stdout + docs.stderr, end="", file=sys.stderr)
        print(
            "error: the docs could not be regenerated (above); fix the stack config, then run "
            "make docs",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    print("  README.md: its graph and services table (make docs)")
    print(
        "next: make preview (and STACK=<each stack>), make local, make test; the spec in "
        f"services/{new.module}.py takes calls, routes, environment and permissions"
    )
    return EXIT_OK
