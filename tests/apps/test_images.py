"""What the images promise the task definitions, read from the Dockerfiles, and what the
build contexts hold: each apps/<service>/ builds alone."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.apps.conftest import APP_DIRECTORIES, PACKAGES, PROJECT, load_script

UID = "10001"
# Import name -> distribution, for the packages the apps import directly.
DISTRIBUTIONS = {
    "boto3": "boto3",
    "botocore": "botocore",
    "fastapi": "fastapi",
    "httpx": "httpx",
    "pydantic": "pydantic",
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


def pins(app: Path) -> dict[str, str]:
    found = {}
    for line in (app / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version), line
            found[name.lower()] = version
    return found


def test_every_app_is_a_service_of_the_catalog() -> None:
    from services import CATALOG

    # Each app is built for the service of its name, and every build is one of the apps.
    assert set(PACKAGES) <= set(CATALOG)
    built = {name for name, spec in CATALOG.items() if spec.build is not None}
    assert {spec.build for spec in CATALOG.values() if spec.build} == {
        f"apps/{name}" for name in built
    }
    assert set(PACKAGES) == built


@apps
def test_multi_stage_on_one_pinned_slim_base(app: Path) -> None:
    instructions = checkov_dockerfiles.instructions((app / "Dockerfile").read_text())
    bases = [args.split()[0] for name, args in instructions if name == "FROM"]
    assert len(bases) >= 2, "multi-stage: a build stage and the image"
    assert len(set(bases)) == 1, bases
    image, _, tag = bases[0].rpartition(":")
    assert image.endswith("/python") and re.fullmatch(r"\d+\.\d+\.\d+-slim-bookworm", tag), tag


@apps
def test_the_image_runs_as_10001_on_8080_with_its_own_tmp(app: Path) -> None:
    final = checkov_dockerfiles.final_stage((app / "Dockerfile").read_text())
    names = [name for name, _ in final]
    assert ("USER", UID) in final
    assert ("EXPOSE", "8080") in final
    assert ("VOLUME", "/tmp") in final
    (run,) = [args for name, args in final if name == "RUN"]
    assert f"chown {UID}:{UID} /tmp" in run
    assert names.index("RUN") < names.index("VOLUME"), "a change after VOLUME would be lost"
    assert names.index("USER") < names.index("CMD")
    env = " ".join(args for name, args in final if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PORT=8080" in env
    assert ("CMD", f'["python", "-m", "{PACKAGES[app.name]}"]') in final
    assert "ADD" not in names


@apps
def test_the_build_context_has_what_the_dockerfile_copies(app: Path) -> None:
    instructions = checkov_dockerfiles.instructions((app / "Dockerfile").read_text())
    for name, args in instructions:
        if name == "COPY" and not args.startswith("--from="):
            *sources, _ = args.split()
            for source in sources:
                assert (app / source).exists(), f"{app.name}: COPY {source}: not in the context"


@apps
def test_the_package_imports_only_itself_the_standard_library_and_its_pins(app: Path) -> None:
    pinned = pins(app)
    for path in sorted((app / PACKAGES[app.name]).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                provider = distribution(name)
                assert provider is not None, f"{path.relative_to(PROJECT)} imports {name}"
                assert provider in pinned, f"{app.name} does not pin {provider} ({name})"


@apps
def test_every_requirement_is_pinned_exactly(app: Path) -> None:
    assert {"fastapi", "uvicorn"} <= set(pins(app))


def test_the_projects_requirements_admit_the_apps_pins() -> None:
    # The tests run the apps in the project's .venv: its ranges must hold each app's version.
    ranges = {}
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            ranges[requirement.name.lower()] = requirement.specifier
    for app in APP_DIRECTORIES:
        for name, version in pins(app).items():
            if name in ranges:
                assert ranges[name].contains(version), f"{app.name}: {name}=={version}"
    for name in ("fastapi", "uvicorn", "httpx", "boto3", "moto", *OPENTELEMETRY.values()):
        assert name in ranges or name == "opentelemetry-api", f"requirements.txt lacks {name}"


def test_the_dockerfile_scan_fails_without_dockerfiles_or_checkov(tmp_path: Path) -> None:
    assert checkov_dockerfiles.main(["--apps", str(tmp_path)]) == 2
    assert checkov_dockerfiles.main(["--checkov", str(tmp_path / "checkov")]) == 2
