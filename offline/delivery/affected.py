"""The stacks a change affects: `python -m offline affected --base REV [--head REV]`.

The change is `git diff BASE...HEAD`: what HEAD changed since it left BASE (their merge base),
so commits that landed on BASE meanwhile do not count. Without `--head`, HEAD is the working
tree: committed, staged and unstaged changes, and untracked files that git does not ignore.

Each changed path (relative to the project) affects:

- `Pulumi.<stack>.yaml`: that stack; for a platform stack, also its service stacks, which read
  the platform's contract (namespace, cluster, deployment and log settings, endpoints) at their
  next preview or deploy. A removed stack file affects no stack: it is reported on stderr, and
  the stack itself is destroyed by hand.
- `services/<module>.py`, a service's spec (added, changed or removed): every platform and
  all-in-one stack (the service's endpoint: security group, call-graph rules, Cloud Map
  service, routes), the service stacks that run the service, and those that run a service
  calling it (a caller's task gets the callee's URL, built from the callee's spec). Each
  module's SPEC is read by importing it, in a separate interpreter, from the merge base and
  from HEAD, so a removed or renamed service counts too. A module without SPEC is a helper
  (every stack); one that fails to import affects every service stack.
- `docs/`, `tests/`, `offline/`, `scripts/`, `.github/`, `*.md`, `Makefile`, `pyproject.toml`,
  `.gitignore`, `LICENSE`: no stack.
- anything else (`__main__.py`, `naming.py`, `components/`, `config/`, `services/spec.py`,
  `services/__init__.py`, `requirements.txt`, `Pulumi.yaml`, and `policy/`, whose pack runs on
  every preview and deploy): every stack.

Exit codes: 0, whatever the result; 2 for a bad revision, no git checkout, or a stack file that
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

EXIT_OK = 0
EXIT_USER_ERROR = 2

Kind = Literal["platform", "service", "all-in-one"]
ENVIRONMENTS = ("development", "production")
STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>.+)\.yaml$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""The stack names Pulumi accepts; a stack file named otherwise is refused, so no other
character ever reaches a workflow."""
ROLE_VARIABLE = "AWS_DEPLOY_ROLE_ARN"
NO_STACK_DIRECTORIES = frozenset({".github", "docs", "offline", "scripts", "tests"})
NO_STACK_FILES = frozenset({".gitignore", "LICENSE", "Makefile", "pyproject.toml"})
SHARED_SERVICE_MODULES = frozenset({"__init__.py", "spec.py"})
"""Modules of services/ that every service reads: a change to one is a program change."""


class AffectedError(Exception):
    """A bad revision, no git checkout, or a stack file that cannot be classified."""


# --- the project at a revision, or in the working tree ------------------------------------


@dataclass(frozen=True)
class Git:
    directory: Path

    def run(self, *args: str, check: bool = True) -> str | None:
        """git's output; None if it failed and `check` is off."""
        try:
            result = subprocess.run(
                ["git", *args], cwd=self.directory, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise AffectedError("git is not installed; it is needed to compare revisions") from None
        if result.returncode == 0:
            return result.stdout
        if check:
            raise AffectedError(f"git {args[0]}: {result.stderr.strip()}")
        return None

    def commit(self, revision: str) -> str:
        """The commit a revision names."""
        found = None
        if revision and not revision.startswith("-"):
            found = self.run(
                "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False
            )
        if not found:
            raise AffectedError(
                f"'{revision}' is not a commit of this repository (a branch, tag or commit; in "
                "CI, check out the whole history: fetch-depth: 0)"
            )
        return found.strip()

    def merge_base(self, base: str, head: str) -> str:
        found = self.run("merge-base", base, head, check=False)
        if not found:
            raise AffectedError(f"{base} and {head} have no common ancestor")
        return found.strip()


class Tree:
    """The project's files at one revision, or in the working tree."""

    def read(self, path: str) -> str | None:
        raise NotImplementedError

    def files(self, directory: str) -> list[str]:
        """The names of the files directly in a directory of the project ("" for its root)."""
        raise NotImplementedError


@dataclass(frozen=True)
class WorkingTree(Tree):
    root: Path

    def read(self, path: str) -> str | None:
        file = self.root / path
        return file.read_text() if file.is_file() else None

    def files(self, directory: str) -> list[str]:
        folder = self.root / directory
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


@dataclass(frozen=True)
class Revision(Tree):
    git: Git
    commit: str

    def read(self, path: str) -> str | None:
        # `./`: relative to the project, wherever it sits in the repository.
        if self.git.run("cat-file", "-e", f"{self.commit}:./{path}", check=False) is None:
            return None
        return self.git.run("show", f"{self.commit}:./{path}")

    def files(self, directory: str) -> list[str]:
        listing = self.git.run(
            "ls-tree", "-z", self.commit, "--", f"./{directory}/" if directory else "./"
        )
        names = []
        for entry in filter(None, (listing or "").split("\0")):
            info, _, path = entry.partition("\t")
            if info.split()[1] == "blob":
                names.append(PurePosixPath(path).name)
        return sorted(names)


# --- stacks --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Stack:
    name: str
    kind: Kind
    environment: str
    """`development` or `production`: the stack's, or for a service stack its platform's."""
    platform: str | None = None
    """A service stack's platform stack, if it is a stack of this project."""
    services: tuple[str, ...] = ()
    """The services a service stack runs."""

    @property
    def role_variable(self) -> str:
        """The GitHub variable holding the stack's deploy role: the environment's role for an
        all-in-one stack, as before stacks were split; a role of its own otherwise."""
        if self.kind == "all-in-one":
            return ROLE_VARIABLE
        return f"{ROLE_VARIABLE}_{re.sub(r'[^A-Z0-9]', '_', self.name.upper())}"

    def matrix_entry(self) -> dict[str, str]:
        return {
            "stack": self.name,
            "kind": self.kind,
            "environment": self.environment,
            "policy-config": f"policy/config/{self.environment}.json",
            "role-variable": self.role_variable,
        }


def _project_keys(file: str, text: str | None, project: str) -> dict[str, Any]:
    """The project's keys of a stack file, without their namespace."""
    try:
        document = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as error:
        raise AffectedError(f"{file} is not valid YAML: {error}") from None
    config = document.get("config") if isinstance(document, dict) else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise AffectedError(f"{file}: 'config' is not a map")
    keys = {}
    for key, value in config.items():
        namespace, colon, name = str(key).partition(":")
        if not colon:
            keys[namespace] = value
        elif namespace == project:
            keys[name] = value
    return keys


def _environment(config: Mapping[str, Any]) -> str:
    value = config.get("environment", "development")
    # An invalid value fails the stack's preview; until then, treat it as production.
    return value if value in ENVIRONMENTS else "production"


def read_stacks(tree: Tree) -> dict[str, Stack]:
    """Every stack of the project, by name, with its kind."""
    text = tree.read("Pulumi.yaml")
    if text is None:
        raise AffectedError("no Pulumi.yaml in the project")
    try:
        project = str(yaml.safe_load(text)["name"])
    except (yaml.YAMLError, TypeError, KeyError):
        raise AffectedError("Pulumi.yaml has no project name") from None
    configs: dict[str, dict[str, Any]] = {}
    for file in tree.files(""):
        match = STACK_FILE.match(file)
        if match is None:
            continue
        if not STACK_NAME.match(match["stack"]):
            raise AffectedError(
                f"{file}: '{match['stack']}' is not a stack name (allowed: letters, digits, "
                "'-', '_' and '.')"
            )
        configs[match["stack"]] = _project_keys(file, tree.read(file), project)
    stacks: dict[str, Stack] = {}
    for name, config in configs.items():
        reference = config.get("platform")
        if reference is None:
            kind: Kind = "platform" if config.get("serviceStacks") is True else "all-in-one"
            stacks[name] = Stack(name=name, kind=kind, environment=_environment(config))
            continue
        parts = str(reference).split("/")
        platform = parts[2] if len(parts) == 3 and parts[1] == project else None
        platform = platform if platform in configs else None
        services = config.get("services")
        stacks[name] = Stack(
            name=name,
            kind="service",
            # A platform outside this project: production, the stricter of the two.
            environment="production" if platform is None else _environment(configs[platform]),
            platform=platform,
            services=tuple(sorted(map(str, services))) if isinstance(services, dict) else (),
        )
    _check_role_variables(stacks.values())
    return stacks


def _check_role_variables(stacks: Iterable[Stack]) -> None:
    seen: dict[str, str] = {}
    for stack in sorted(stacks, key=lambda s: s.name):
        if stack.kind == "all-in-one":
            continue
        other = seen.setdefault(stack.role_variable, stack.name)
        if other != stack.name:
            raise AffectedError(
                f"the stacks {other} and {stack.name} would share the deploy role variable "
                f"{stack.role_variable}: rename one of them"
            )


# --- the catalog ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceModule:
    """What a module of services/ declares."""

    status: Literal["service", "not-a-service", "unreadable"]
    name: str = ""
    calls: tuple[str, ...] = ()


# Run in a separate interpreter, on a copy of one side's services/: imports each module as
# `services.<module>` (under a bare package, so that one module that fails to import does not
# hide the others) and prints what its SPEC declares.
_READ_CATALOG = """
import importlib, json, sys, types
from pathlib import Path

folder = Path(sys.argv[1]) / "services"
package = types.ModuleType("services")
package.__path__ = [str(folder)]
sys.modules["services"] = package
try:
    spec = importlib.import_module("services.spec")
    vars(package).update({k: v for k, v in vars(spec).items() if not k.startswith("_")})
except Exception:
    pass
found = {}
for path in sorted(folder.glob("*.py")):
    if path.name in ("__init__.py", "spec.py"):
        continue
    try:
        declared = getattr(importlib.import_module("services." + path.stem), "SPEC", None)
    except BaseException:
        found[path.name] = {"status": "unreadable"}
        continue
    if declared is None:
        found[path.name] = {"status": "not-a-service"}
        continue
    name, calls = getattr(declared, "name", None), getattr(declared, "calls", None)
    if isinstance(name, str) and isinstance(calls, (tuple, list)):
        if all(isinstance(callee, str) for callee in calls):
            found[path.name] = {"status": "service", "name": name, "calls": list(calls)}
            continue
    found[path.name] = {"status": "unreadable"}
print(json.dumps(found))
"""


def _service_module(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        len(parts) == 2
        and parts[0] == "services"
        and parts[1].endswith(".py")
        and parts[1] not in SHARED_SERVICE_MODULES
    )


def read_catalog(tree: Tree) -> dict[str, ServiceModule]:
    """Each module of services/ at one side of the change, by file name, as Python imports
    it: the name and calls of its SPEC, whatever code builds it."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "services"
        folder.mkdir()
        for file in tree.files("services"):
            if file.endswith(".py"):
                (folder / file).write_text(tree.read(f"services/{file}") or "")
        try:
            result = subprocess.run(
                # -I: nothing from the environment or the working directory on sys.path.
                [sys.executable, "-I", "-B", "-c", _READ_CATALOG, directory],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            found = json.loads(result.stdout) if result.returncode == 0 else None
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            found = None
    if not isinstance(found, dict):
        # Not even the catalog's listing: treat every module as unreadable.
        files = [f for f in tree.files("services") if _service_module(f"services/{f}")]
        return {file: ServiceModule("unreadable") for file in files}
    return {
        file: ServiceModule(info["status"], info.get("name", ""), tuple(info.get("calls", ())))
        for file, info in found.items()
    }


# --- classification ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Affected:
    stacks: tuple[Stack, ...]
    """Platform stacks, then service stacks, then all-in-one stacks; each kind by name."""
    removed: tuple[str, ...] = ()
    """Stacks whose stack file the change removed."""

    def of_kind(self, kind: Kind) -> list[Stack]:
        return [stack for stack in self.stacks if stack.kind == kind]


def _ordered(stacks: Iterable[Stack]) -> tuple[Stack, ...]:
    order = {"platform": 0, "service": 1, "all-in-one": 2}
    return tuple(sorted(stacks, key=lambda s: (order[s.kind], s.name)))


def _no_stack(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        parts[0] in NO_STACK_DIRECTORIES
        or path.endswith(".md")
        or (len(parts) == 1 and parts[0] in NO_STACK_FILES)
    )


def classify(changed: Iterable[str], base: Tree, head: Tree) -> Affected:
    """The stacks of `head` that the changed paths (relative to the project) affect; `base`
    is the project where the change started, for what the change removed."""
    stacks = read_stacks(head)
    selected: set[str] = set()
    removed: set[str] = set()
    modules: list[str] = []
    every_stack = False
    for path in sorted(set(changed)):
        stack_file = STACK_FILE.match(path)
        if stack_file is not None:
            name = stack_file["stack"]
            if name not in stacks:
                removed.add(name)
                continue
            selected.add(name)
            if stacks[name].kind == "platform":
                selected.update(s.name for s in stacks.values() if s.platform == name)
        elif _service_module(path):
            modules.append(PurePosixPath(path).name)
        elif not _no_stack(path):
            every_stack = True
    if modules and not every_stack:
        catalog = [read_catalog(base), read_catalog(head)]
        sides = [side[m] for m in modules for side in catalog if m in side]
        # A module without SPEC is a helper: whatever imports it may change.
        every_stack = any(side.status == "not-a-service" for side in sides)
    if every_stack:
        return Affected(stacks=_ordered(stacks.values()), removed=tuple(sorted(removed)))
    if modules:
        selected.update(s.name for s in stacks.values() if s.kind != "service")
        services = _services(sides, [module for side in catalog for module in side.values()])
        selected.update(
            s.name
            for s in stacks.values()
            if s.kind == "service" and (services is None or services.intersection(s.services))
        )
    return Affected(
        stacks=_ordered(stacks[name] for name in selected), removed=tuple(sorted(removed))
    )


def _services(changed: list[ServiceModule], catalog: list[ServiceModule]) -> set[str] | None:
    """The services whose stacks the changed service modules affect: their own (named at the
    base and at HEAD) and their callers', whose tasks get their URL, built from their spec.
    None for every service stack: a changed module or a possible caller cannot be read."""
    if any(module.status == "unreadable" for module in [*changed, *catalog]):
        return None
    services = {module.name for module in changed}
    return services | {module.name for module in catalog if services.intersection(module.calls)}


def changed_paths(git: Git, base: str, head: str | None) -> tuple[list[str], Tree, Tree]:
    """The paths (relative to the project) that HEAD changed since its merge base with BASE,
    and the project at that merge base and at HEAD."""
    inside = git.run("rev-parse", "--is-inside-work-tree", check=False)
    if not inside or inside.strip() != "true":
        raise AffectedError(f"{git.directory} is not in a git checkout")
    base_commit = git.commit(base)
    head_commit = git.commit(head if head is not None else "HEAD")
    start = git.merge_base(base_commit, head_commit)
    diff = ["diff", "--name-only", "--no-renames", "--relative", "-z", start]
    if head is not None:
        paths = (git.run(*diff, head_commit) or "").split("\0")
        head_tree: Tree = Revision(git, head_commit)
    else:
        untracked = git.run("ls-files", "-z", "--others", "--exclude-standard") or ""
        paths = (git.run(*diff) or "").split("\0") + untracked.split("\0")
        head_tree = WorkingTree(git.directory)
    return sorted(set(filter(None, paths))), Revision(git, start), head_tree


# --- the command ---------------------------------------------------------------------------


def add_affected_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "affected",
        help="the stacks a change between two git revisions affects",
        description="The stacks to preview or deploy for the change HEAD makes since it left "
        "BASE: platform stacks, service stacks, then all-in-one stacks.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", help="the revision the change starts from, e.g. origin/main")
    which.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="these stacks rather than a change's (repeatable), e.g. for a manual deploy",
    )
    which.add_argument("--all", action="store_true", help="every stack of the project")
    parser.add_argument(
        "--head",
        help="the revision with the change (default: the working tree, untracked files too)",
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


def format_text(affected: Affected) -> str:
    return "".join(f"{stack.name}\n" for stack in affected.stacks)


def format_json(affected: Affected) -> str:
    document = {
        "platform": [s.name for s in affected.of_kind("platform")],
        "services": [s.name for s in affected.of_kind("service")],
        "allInOne": [s.name for s in affected.of_kind("all-in-one")],
    }
    return json.dumps(document, indent=2) + "\n"


def format_github(affected: Affected) -> str:
    """`key=value` lines for `$GITHUB_OUTPUT`: each value a JSON array of matrix entries
    (stack, kind, environment, policy-config, role-variable), and `names` for shell loops."""

    def entries(stacks: Iterable[Stack]) -> str:
        return json.dumps([s.matrix_entry() for s in stacks], separators=(",", ":"))

    all_in_one = affected.of_kind("all-in-one")
    outputs = {
        "stacks": entries(affected.stacks),
        "platform": entries(affected.of_kind("platform")),
        "services": entries(affected.of_kind("service")),
        "all-in-one-development": entries(s for s in all_in_one if s.environment != "production"),
        "all-in-one-production": entries(s for s in all_in_one if s.environment == "production"),
        "names": " ".join(s.name for s in affected.stacks),
    }
    return "".join(f"{key}={value}\n" for key, value in outputs.items())


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}


def affected_stacks(args: argparse.Namespace, project_dir: Path) -> Affected:
    if args.base is None:
        if args.head is not None:
            raise AffectedError("--head goes with --base")
        stacks = read_stacks(WorkingTree(project_dir))
        if args.all:
            return Affected(stacks=_ordered(stacks.values()))
        unknown = sorted(set(args.stack) - set(stacks))
        if unknown:
            raise AffectedError(
                f"no stack {', '.join(unknown)} (stacks: {', '.join(sorted(stacks)) or 'none'})"
            )
        return Affected(stacks=_ordered(stacks[name] for name in set(args.stack)))
    paths, base, head = changed_paths(Git(project_dir), args.base, args.head)
    return classify(paths, base, head)


def run_affected(args: argparse.Namespace, project_dir: Path) -> int:
    try:
        affected = affected_stacks(args, project_dir)
    except AffectedError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    for stack in affected.removed:
        print(
            f"note: the change removes Pulumi.{stack}.yaml; the stack {stack} is neither "
            f"previewed nor deployed: destroy it by hand (pulumi destroy --stack {stack}, "
            f"then pulumi stack rm {stack})",
            file=sys.stderr,
        )
    sys.stdout.write(FORMATTERS[args.format](affected))
    return EXIT_OK
