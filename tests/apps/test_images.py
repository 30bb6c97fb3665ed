"""What the images promise the task definitions, read from the one Dockerfile, and what the
shared build context (apps/) holds for each app: its requirements, its package and
service-kit, whose pins every app's requirements repeat exactly."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.apps.conftest import (
    APP_DIRECTORIES,
    APPS,
    DOCKERFILE,
    PACKAGES,
    PROJECT,
    SERVICE_KIT,
    load_script,
)

UID = "10001"
# Import name -> distribution, for the packages the apps import directly.
DISTRIBUTIONS = {
    "boto3": "boto3",
    "botocore": "botocore",
    "fastapi": "fastapi",
    "h11": "h11",
    "httpx": "httpx",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
}
# Module -> distribution for `opentelemetry`, a namespace that many distributions share; the
# longest prefix of an imported module decides.
OPENTELEMETRY = {
    "opentelemetry": "opentelemetry-api",
    "opentelemetry.sdk": "opentelemetry-sdk",
    "opentelemetry.exporter.otlp.proto.http": "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry.instrumentation.fastapi": "opentelemetry-instrumentation-fastapi",
    "opentelemetry.instrumentation.httpx": "opentelemetry-instrumentation-httpx",
    "opentelemetry.instrumentation.botocore": "opentelemetry-instrumentation-botocore",
}


def distribution(module: str) -> str | None:
    """The distribution that provides `module`, for the packages the apps import directly."""
    if module.split(".")[0] != "opentelemetry":
        return DISTRIBUTIONS.get(module.split(".")[0])
    parts = module.split(".")
    prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
    return next(OPENTELEMETRY[p] for p in prefixes if p in OPENTELEMETRY)


checkov_dockerfiles = load_script("checkov_dockerfiles")
apps = pytest.mark.parametrize("app", APP_DIRECTORIES, ids=lambda d: d.name)


def _pin(line: str) -> tuple[str, str]:
    name, _, version = line.partition("==")
    assert version and re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version), line
    return name.strip().lower(), version.strip()


def pins(app: Path) -> dict[str, str]:
    found = {}
    for line in (app / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = _pin(line)
            found[name] = version
    return found


def service_kit_project() -> dict:
    return tomllib.loads((SERVICE_KIT / "pyproject.toml").read_text())


def service_kit_pins() -> dict[str, str]:
    """service-kit's dependencies, each pinned exactly."""
    return dict(_pin(line) for line in service_kit_project()["project"]["dependencies"])


def imported_distributions(package: Path, own: set[str]) -> dict[str, str]:
    """Distribution -> the first module of `package` that imports it; the standard library and
    the names in `own` left out; an import no distribution is known for fails."""
    found: dict[str, str] = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__" or top in own:
                    continue
                provider = distribution(name)
                assert provider is not None, f"{path.relative_to(PROJECT)} imports {name}"
                found.setdefault(provider, f"{path.relative_to(PROJECT)} ({name})")
    return found


def build(app: Path, text: str) -> str:
    """The Dockerfile's text with the build arguments ServiceImage passes for `app`."""
    return text.replace("${SERVICE}", app.name).replace("${PACKAGE}", PACKAGES[app.name])


def test_every_app_is_a_service_of_the_catalog() -> None:
    from services import CATALOG

    # Each app is built for the service of its name, and every build is one of the apps.
    assert set(PACKAGES) <= set(CATALOG)
    built = {name for name, spec in CATALOG.items() if spec.build is not None}
    assert {spec.build for spec in CATALOG.values() if spec.build} == {
        f"apps/{name}" for name in built
    }
    assert set(PACKAGES) == built


def test_one_dockerfile_serves_every_app() -> None:
    assert DOCKERFILE.is_file()
    assert not list(APPS.glob("*/Dockerfile")), "no app has a Dockerfile of its own"
    assert (APPS / ".dockerignore").is_file()
    assert not list(APPS.glob("*/.dockerignore")), "the context is apps/: one .dockerignore"


def test_multi_stage_on_one_pinned_slim_base() -> None:
    instructions = checkov_dockerfiles.instructions(DOCKERFILE.read_text())
    bases = [args.split()[0] for name, args in instructions if name == "FROM"]
    assert len(bases) >= 2, "multi-stage: a build stage and the image"
    assert len(set(bases)) == 1, bases
    image, _, tag = bases[0].rpartition(":")
    assert image.endswith("/python") and re.fullmatch(r"\d+\.\d+\.\d+-slim-bookworm", tag), tag


def test_the_image_runs_its_package_as_10001_on_8080_with_its_own_tmp() -> None:
    final = checkov_dockerfiles.final_stage(DOCKERFILE.read_text())
    names = [name for name, _ in final]
    assert ("USER", UID) in final
    assert ("EXPOSE", "8080") in final
    assert ("VOLUME", "/tmp") in final
    (run,) = [args for name, args in final if name == "RUN"]
    assert f"chown {UID}:{UID} /tmp" in run
    assert names.index("RUN") < names.index("VOLUME"), "a change after VOLUME would be lost"
    assert names.index("USER") < names.index("CMD")
    assert ("ARG", "PACKAGE") in final, "the build argument, declared in the final stage"
    env = " ".join(args for name, args in final if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PORT=8080" in env
    # An exec-form CMD cannot expand an ARG: the package is carried in SERVICE_PACKAGE.
    assert "SERVICE_PACKAGE=${PACKAGE}" in env
    assert ("CMD", '["python", "-m", "service_kit"]') in final
    assert "ADD" not in names


def test_the_build_stage_installs_the_pins_then_service_kit_then_the_app() -> None:
    stage = checkov_dockerfiles.instructions(DOCKERFILE.read_text())
    stage = stage[: [i for i, (name, _) in enumerate(stage) if name == "FROM"][1]]
    assert ("ARG", "SERVICE") in stage and ("ARG", "PACKAGE") in stage
    copies = [args for name, args in stage if name == "COPY"]
    assert copies == [
        "${SERVICE}/requirements.txt /build/requirements.txt",
        "service-kit/ /build/service-kit/",
        "${SERVICE}/${PACKAGE}/ /app/${PACKAGE}/",
    ]
    runs = [args for name, args in stage if name == "RUN"]
    assert any("--only-binary=:all:" in run and "-r /build/requirements.txt" in run for run in runs)
    assert any("--no-deps" in run and run.endswith("/build/service-kit") for run in runs)


@apps
def test_the_build_context_has_what_the_dockerfile_copies_for_each_app(app: Path) -> None:
    instructions = checkov_dockerfiles.instructions(build(app, DOCKERFILE.read_text()))
    copied = []
    for name, args in instructions:
        if name == "COPY" and not args.startswith("--from="):
            *sources, _ = args.split()
            for source in sources:
                assert (APPS / source).exists(), f"{app.name}: COPY {source}: not in the context"
                copied.append(source.rstrip("/"))
    # What ServiceImage's tag hashes: service-kit/, the Dockerfile and the app's directory.
    assert copied == [
        f"{app.name}/requirements.txt",
        "service-kit",
        f"{app.name}/{PACKAGES[app.name]}",
    ]


def test_service_kit_imports_only_the_standard_library_and_its_pins() -> None:
    pinned = service_kit_pins()
    imported = imported_distributions(SERVICE_KIT / "service_kit", {"service_kit"})
    for provider, where in imported.items():
        assert provider in pinned, f"service-kit does not pin {provider}: {where}"


def test_service_kit_pins_its_build_backend() -> None:
    (backend,) = service_kit_project()["build-system"]["requires"]
    assert _pin(backend)


@apps
def test_the_package_imports_only_itself_service_kit_the_standard_library_and_its_pins(
    app: Path,
) -> None:
    pinned = pins(app)
    imported = imported_distributions(app / PACKAGES[app.name], {"service_kit"})
    for provider, where in imported.items():
        assert provider in pinned, f"{app.name} does not pin {provider}: {where}"


@apps
def test_every_requirement_is_pinned_exactly(app: Path) -> None:
    assert {"fastapi", "uvicorn"} <= set(pins(app))


@apps
def test_each_app_pins_service_kits_dependencies_as_it_does(app: Path) -> None:
    # The image installs service-kit without its dependencies: the app's pins are what it gets.
    pinned = pins(app)
    for name, version in service_kit_pins().items():
        assert pinned.get(name) == version, f"{app.name}: {name}=={pinned.get(name)}, not {version}"


def test_the_projects_requirements_admit_the_apps_pins() -> None:
    # The tests run the apps in the project's .venv: its ranges must hold each app's version.
    ranges = {}
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            ranges[requirement.name.lower()] = requirement.specifier
    for name, version in service_kit_pins().items():
        if name in ranges:
            assert ranges[name].contains(version), f"service-kit: {name}=={version}"
    for app in APP_DIRECTORIES:
        for name, version in pins(app).items():
            if name in ranges:
                assert ranges[name].contains(version), f"{app.name}: {name}=={version}"
    for name in ("fastapi", "uvicorn", "httpx", "boto3", "moto", *OPENTELEMETRY.values()):
        assert name in ranges or name == "opentelemetry-api", f"requirements.txt lacks {name}"


def test_the_dockerfile_scan_fails_without_dockerfiles_or_checkov(tmp_path: Path) -> None:
    assert checkov_dockerfiles.main(["--apps", str(tmp_path)]) == 2
    assert checkov_dockerfiles.main(["--checkov", str(tmp_path / "checkov")]) == 2
