"""Whether a service stack's size and preview time stay flat as the service catalog grows.

Builds two temporary copies of the project: one with the committed catalog, one with generated
services added until the catalog holds --services. Each copy splits the dev stack into a
platform stack `bp` (serviceStacks: true) and a service stack `bp-order-service`, beside an
all-in-one stack `ba` (dev's stack file). The stack names are short: a routed service's target
group name starts with them, and AWS allows 32 characters. Then, running every variant
once per round
(the machine is shared and noisy), it measures:

- `python -m offline preview --stack S --json`, the offline preview as a user runs it, for the
  service stack and the all-in-one stack: resources registered and time. Offline, a service
  stack's preview also renders its platform to resolve the StackReference, which a real
  `pulumi preview` reads from the platform's state instead;
- the service stack as a real preview runs it: a fresh process that runs its program on the
  platform's outputs (rendered once beforehand). The whole process is timed, SDK imports
  included, and within it the program's first run and --repeat further runs.

Each time is measured as wall time and as CPU time (user + system, of the process measured),
which other load on the machine disturbs less. It prints the medians, and each ratio of the
large catalog's value to the committed one's:

    .venv/bin/python scripts/bench_split.py [--services 50] [--rounds 5] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts scripts/ first on the path, not the project.
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

import naming  # noqa: E402
from offline.render.environments import environment_document  # noqa: E402
from offline.render.stackfile import project_name  # noqa: E402
from services import CATALOG  # noqa: E402

ORG = "acme"
ENVIRONMENT = "dev"
# Short: a routed service's target group names start with the stack's name (check_names).
PLATFORM = "bp"
SERVICE = "order-service"
SERVICE_STACK = f"{PLATFORM}-{SERVICE}"
ALL_IN_ONE = "ba"
TIMEOUT = 120  # seconds, per subprocess
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"
)

GENERATED = """from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="svc-{nn}",
    discovery_name="svc{nn}",
    container_name="svc{nn}",
    calls=({calls}),
)
"""

# Run with cwd = a copy: the service stack's program on the platform's outputs, first once (as
# a real preview runs it), then `repeat` times more. Prints one JSON line.
SERVICE_PROGRAM = """
import json, runpy, sys, time
from pathlib import Path
from offline.render.harness import run_program
from offline.render.stackfile import load_stack_config

stack, reference, outputs_file, repeat = sys.argv[1:5]
project = Path.cwd()
outputs = {reference: json.loads(Path(outputs_file).read_text())}
config = load_stack_config(stack, project)

def program():
    runpy.run_path(str(project / "__main__.py"), run_name="__main__")

samples = []
for _ in range(1 + int(repeat)):
    wall, cpu = time.perf_counter(), time.process_time()
    rendering = run_program(program, config, stack_outputs=outputs)
    samples.append([time.perf_counter() - wall, time.process_time() - cpu])
print(json.dumps({"resources": len(rendering.resources), "times": samples}))
"""


@dataclass(frozen=True)
class Copy:
    label: str
    directory: Path
    services: int
    reference: str
    """The service stack's platform, `org/project/stack`."""

    @property
    def platform_outputs(self) -> Path:
        """The platform's outputs, as its state would hold them (beside the copy)."""
        return self.directory.with_name(f"{self.label}-platform-outputs.json")


Time = tuple[float, float]
"""Wall and CPU seconds."""
Sample = tuple[int, list[Time]]
"""Resources registered, and the times measured."""


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BenchError(Exception):
    """A child failed, or the benchmark cannot run as set up."""


def run(copy: Copy, command: list[str]) -> tuple[str, Time]:
    """Stdout of a command run in the copy, and its wall and CPU time; BenchError with the
    child's stderr if it fails."""
    wall, cpu = time.perf_counter(), cpu_of_children()
    result = subprocess.run(
        command, cwd=copy.directory, check=False, capture_output=True, text=True, timeout=TIMEOUT
    )
    if result.returncode != 0:
        # A program given with -c is shown by its place, not its text.
        shown = " ".join(
            ["python", "-c", "<program>", *command[3:]] if command[1] == "-c" else command
        )
        raise BenchError(
            f"in the {copy.label} copy, `{shown}` exited {result.returncode}:\n"
            + (result.stderr.strip() or result.stdout.strip() or "(no output)")
        )
    return result.stdout, (time.perf_counter() - wall, cpu_of_children() - cpu)


def check_names() -> None:
    """Every stack name fits in the routed services' target group names."""
    for stack in (PLATFORM, ALL_IN_ONE):
        for name, spec in sorted(CATALOG.items()):
            component = naming.service_component(naming.platform(stack), name)
            if spec.routes and not naming.fits_lb_name_limit(
                naming.alternate_target_group(component)
            ):
                raise BenchError(
                    f"the stack name {stack!r} makes {name}'s target group name too long for "
                    f"AWS ({naming.AWS_LB_NAME_MAX} characters with Pulumi's suffix); shorten "
                    "PLATFORM or ALL_IN_ONE in scripts/bench_split.py"
                )


def write_stack(directory: Path, stack: str, config: Mapping[str, Any]) -> None:
    text = yaml.safe_dump({"config": dict(config)}, sort_keys=False)
    (directory / f"Pulumi.{stack}.yaml").write_text(text)


def generate_services(directory: Path, total: int) -> None:
    """Services svc-NN until the catalog holds `total`. Each calls the one before it and none
    is routed, so every security group and the ALB stay far within their quotas."""
    first = len(CATALOG) + 1
    for number in range(first, total + 1):
        calls = f'"svc-{number - 1:02d}",' if number > first else ""
        module = GENERATED.format(nn=f"{number:02d}", calls=calls)
        (directory / "services" / f"generated_{number:02d}.py").write_text(module)


def make_copy(root: Path, label: str, services: int) -> Copy:
    directory = root / label
    shutil.copytree(PROJECT, directory, ignore=IGNORED)
    generate_services(directory, services)
    project = project_name(directory)
    document = environment_document(ENVIRONMENT, directory)
    write_stack(directory, ALL_IN_ONE, document)
    platform = dict(document)
    settings = (platform.pop(f"{project}:services", None) or {}).get(SERVICE) or {}
    write_stack(directory, PLATFORM, {**platform, f"{project}:serviceStacks": True})
    reference = f"{ORG}/{project}/{PLATFORM}"
    providers = {k: v for k, v in document.items() if k.startswith("aws:")}
    write_stack(
        directory,
        SERVICE_STACK,
        {
            **providers,
            f"{project}:platform": reference,
            f"{project}:services": {SERVICE: settings},
        },
    )
    return Copy(label=label, directory=directory, services=services, reference=reference)


def preview(copy: Copy, stack: str) -> tuple[dict[str, Any], Time]:
    """The offline preview's JSON document, and its time."""
    command = [sys.executable, "-m", "offline", "preview", "--stack", stack, "--json"]
    stdout, measured = run(copy, command)
    return json.loads(stdout), measured


def preview_sample(copy: Copy, stack: str) -> Sample:
    document, measured = preview(copy, stack)
    return len(document["resources"]), [measured]


def service_program_samples(copy: Copy, repeat: int) -> dict[str, Sample]:
    command = [
        sys.executable, "-c", SERVICE_PROGRAM,
        SERVICE_STACK, copy.reference, str(copy.platform_outputs), str(repeat),
    ]  # fmt: skip
    stdout, process = run(copy, command)
    measured = json.loads(stdout.strip().splitlines()[-1])
    count = measured["resources"]
    first, *more = (tuple(times) for times in measured["times"])
    return {
        "service stack, fresh process, platform from state": (count, [process]),
        "  its program's first run": (count, [first]),
        "  its program's later runs": (count, more),
    }


PREVIEWS = {
    "service stack, offline preview (renders platform)": SERVICE_STACK,
    "all-in-one, offline preview": ALL_IN_ONE,
}
PLATFORM_PREVIEW = "platform, offline preview (once)"


def main() -> int:
    try:
        measure()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def measure() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50, help="the large catalog's size")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="later program runs per round")
    args = parser.parse_args()
    if args.services <= len(CATALOG):
        parser.error(f"--services must exceed the committed catalog's {len(CATALOG)}")
    check_names()

    counts: dict[tuple[str, str], set[int]] = {}
    times: dict[tuple[str, str], list[Time]] = {}

    def record(name: str, copy: Copy, sample: Sample) -> None:
        counts.setdefault((name, copy.label), set()).add(sample[0])
        times.setdefault((name, copy.label), []).extend(sample[1])

    with tempfile.TemporaryDirectory(prefix="bench-split-") as root:
        copies = [
            make_copy(Path(root), "committed", len(CATALOG)),
            make_copy(Path(root), "large", args.services),
        ]
        for copy in copies:
            platform, _ = preview(copy, PLATFORM)
            counts[PLATFORM_PREVIEW, copy.label] = {len(platform["resources"])}
            copy.platform_outputs.write_text(json.dumps(platform["outputs"]))
        for _ in range(args.rounds):
            for copy in copies:
                for name, stack in PREVIEWS.items():
                    record(name, copy, preview_sample(copy, stack))
                for name, sample in service_program_samples(copy, args.repeat).items():
                    record(name, copy, sample)

    small, large = copies
    names = [name for name, label in counts if label == small.label and name != PLATFORM_PREVIEW]
    names.append(PLATFORM_PREVIEW)
    width = max(map(len, names))
    header = f"{'':<{width}}  {small.services:>8} {large.services:>8} {'ratio':>6}"
    print(
        f"catalogs of {small.services} (committed) and {large.services} services; stacks "
        f"{SERVICE_STACK} (service), {ALL_IN_ONE} (all-in-one), {PLATFORM} (platform)"
    )
    print(f"\nresources registered\n{header}")
    for name in names:
        a, b = counts[name, small.label], counts[name, large.label]
        if len(a) != 1 or len(b) != 1:
            raise SystemExit(f"{name}: the resource count varies between runs: {a}, {b}")
        if not name.startswith("  "):
            print(f"{name:<{width}}  {min(a):>8} {min(b):>8} {min(b) / min(a):>6.2f}")
    for column, kind in enumerate(("wall", "CPU")):
        print(f"\nmedian {kind} seconds over {args.rounds} rounds\n{header}")
        for name in names:
            if (name, small.label) in times:
                a, b = (
                    statistics.median(sample[column] for sample in times[name, copy.label])
                    for copy in copies
                )
                print(f"{name:<{width}}  {a:>8.3f} {b:>8.3f} {b / a:>6.2f}")


if __name__ == "__main__":
    sys.exit(main())
