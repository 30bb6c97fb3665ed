"""Scan the applications' Dockerfile (apps/Dockerfile) with Checkov's Dockerfile checks.

    .venv/bin/python scripts/checkov_dockerfiles.py --checkov .venv-scan/bin/checkov

Checkov runs with `--framework dockerfile` on apps/Dockerfile, the one every image is built
with (and on any apps/<dir>/Dockerfile, should one appear). A failed check counts unless
ALLOWED_FAILURES excuses it: each entry names the check, the reason, and a condition read from
the Dockerfile that makes the reason true; when the Dockerfile changes so that the reason no
longer holds, the failure counts again (as scripts/checkov_scan.py does for the stacks).

Exit codes: 0 no failed check outside ALLOWED_FAILURES, 1 some, 2 the scan could not run (no
Dockerfile, no checkov, a Dockerfile checkov did not parse or check).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from checkov_common import ScanError, checkov_report, find_checkov

PROJECT = Path(__file__).resolve().parent.parent
APPS = PROJECT / "apps"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

Condition = Callable[[str], bool]
"""Given a Dockerfile's text, whether the excuse applies to it."""


@dataclass(frozen=True)
class Allowed:
    check_id: str
    reason: str
    holds: Condition
    accepted: bool = False
    """True: a risk the project accepts; False: the check does not apply."""


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    result = []
    for line in joined.splitlines():
        parts = line.strip().split(None, 1)
        if parts:
            result.append((parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return result


def final_stage(text: str) -> list[tuple[str, str]]:
    """The instructions of the last stage, the one the image is."""
    found = instructions(text)
    starts = [i for i, (name, _) in enumerate(found) if name == "FROM"]
    return found[starts[-1] :] if starts else found


# Nothing is excused today: every check passes on the Dockerfile. An excuse is added
# here, never with a skip comment in a Dockerfile, so that its reason and condition are
# reviewed with it. For example, were HEALTHCHECK dropped:
#
#     Allowed(
#         "CKV_DOCKER_2",
#         "ECS ignores an image's HEALTHCHECK; the target group checks GET /health",
#         lambda text: ("EXPOSE", "8080") in final_stage(text),
#     )
ALLOWED_FAILURES: tuple[Allowed, ...] = ()


@dataclass(frozen=True)
class Finding:
    check_id: str
    title: str
    dockerfile: Path
    resource: str


def dockerfiles(root: Path = APPS) -> list[Path]:
    found = sorted([*root.glob("Dockerfile"), *root.glob("*/Dockerfile")])
    if not found:
        raise ScanError(f"no Dockerfile in {root}/ or {root}/*/")
    return found


def run_checkov(checkov: str, files: Sequence[Path]) -> tuple[list[Finding], dict[Path, int]]:
    """The failed checks, and how many checks ran on each Dockerfile."""
    arguments = [argument for path in files for argument in ("-f", str(path.resolve()))]
    with tempfile.TemporaryDirectory(prefix="checkov-dockerfiles-") as directory:
        report = checkov_report(checkov, arguments, "dockerfile", Path(directory))
    if report["summary"]["parsing_errors"]:
        raise ScanError(f"checkov could not parse {report['summary']['parsing_errors']} file(s)")
    counts = {path.resolve(): 0 for path in files}
    failed = []
    for outcome in ("passed_checks", "failed_checks"):
        for check in report["results"][outcome]:
            path = _scanned(check, counts)
            counts[path] += 1
            if outcome == "failed_checks":
                finding = Finding(
                    str(check["check_id"]), str(check["check_name"]), path, str(check["resource"])
                )
                failed.append(finding)
    return sorted(failed, key=lambda f: (str(f.dockerfile), f.check_id)), counts


def _scanned(check: dict, counts: dict[Path, int]) -> Path:
    reported = Path(str(check.get("file_abs_path") or check["file_path"]))
    for path in counts:
        if reported == path or str(reported).endswith(str(path)):
            return path
    raise ScanError(f"checkov reported on a file it was not given: {reported}")


def allowance(finding: Finding) -> Allowed | None:
    text = finding.dockerfile.read_text()
    for entry in ALLOWED_FAILURES:
        if entry.check_id == finding.check_id and entry.holds(text):
            return entry
    return None


def scan(args: argparse.Namespace) -> int:
    files = dockerfiles(args.apps)
    checkov = find_checkov(args.checkov)
    failed, counts = run_checkov(checkov, files)
    unchecked = [path for path, count in counts.items() if count == 0]
    if unchecked:
        raise ScanError(f"checkov ran no check on {', '.join(map(str, unchecked))}")
    blocking = [f for f in failed if allowance(f) is None]
    allowed = [(f, entry) for f in failed if (entry := allowance(f)) is not None]
    print(f"Dockerfiles: checkov, framework dockerfile, on {len(files)} files")
    for path in files:
        name = (
            path.resolve().relative_to(PROJECT) if path.resolve().is_relative_to(PROJECT) else path
        )
        mine = [f for f in failed if f.dockerfile == path.resolve()]
        print(f"  {name}: {counts[path.resolve()]} checks, {len(mine)} failed")
    for finding in blocking:
        print(f"  FAILED  {finding.check_id}  {finding.resource}")
        print(f"          {finding.title}")
    for finding, entry in allowed:
        print(f"  allowed {finding.check_id}  {finding.resource}")
        print(f"          {finding.title}")
        print(f"          {'accepted' if entry.accepted else 'does not apply'}: {entry.reason}")
    return EXIT_FAILED if blocking else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", help="the checkov executable (default: PATH, .venv-scan)")
    parser.add_argument(
        "--apps", type=Path, default=APPS, help="the directory of the applications (apps/)"
    )
    args = parser.parse_args(argv)
    try:
        return scan(args)
    except ScanError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
