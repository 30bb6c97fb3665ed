"""What the two Checkov scans share (checkov_scan.py for a stack, checkov_dockerfiles.py for
the applications' Dockerfiles): finding Checkov, and running it for one framework's report.

scripts/ is not a package: the scans import this module as a sibling, which works because
Python puts a script's own directory first on sys.path (pytest is given scripts/ through
`pythonpath` in pyproject.toml).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
SCAN_VENV_CHECKOV = PROJECT / ".venv-scan" / "bin" / "checkov"


class ScanError(Exception):
    """The scan could not run: one line, exit code 2."""


def find_checkov(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [shutil.which("checkov"), str(SCAN_VENV_CHECKOV)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(Path(candidate).absolute())  # checkov runs in a temporary directory
    raise ScanError(
        f"checkov not found ({explicit or 'PATH, .venv-scan/bin'}): python3 -m venv .venv-scan "
        "&& .venv-scan/bin/pip install -r scripts/scan-requirements.txt"
    )


def checkov_report(
    checkov: str, arguments: Sequence[str], framework: str, directory: Path
) -> dict[str, Any]:
    """Checkov's JSON report for `framework`, run on `arguments` (the files) from `directory`:
    an empty temporary one, so that no .checkov.yaml of the caller's applies."""
    command = [checkov, *arguments, "--framework", framework, "--output", "json"]
    command += ["--skip-download", "--soft-fail"]
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ScanError(f"checkov exited {result.returncode}: {result.stderr.strip()[-500:]}")
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ScanError(f"checkov printed no JSON report: {result.stdout[:200]!r}") from error
    reports = output if isinstance(output, list) else [output]
    report = next((r for r in reports if r.get("check_type") == framework), None)
    if report is None:
        raise ScanError(f"checkov reported nothing for the {framework} framework")
    return report
