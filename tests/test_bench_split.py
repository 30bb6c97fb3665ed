"""`make bench-split`: its stacks' names fit AWS's limits for the catalog's routed services,
and a child that fails is shown with its stderr, not as a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import bench_split
import pytest

import naming
from services import CATALOG


def test_its_stack_names_fit_every_routed_services_target_group_names() -> None:
    bench_split.check_names()  # raises BenchError otherwise
    for stack in (bench_split.PLATFORM, bench_split.ALL_IN_ONE):
        for name, spec in CATALOG.items():
            component = naming.service_component(naming.platform(stack), name)
            if spec.routes:
                assert naming.fits_lb_name_limit(naming.alternate_target_group(component))


def test_a_long_stack_name_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routed = sorted(name for name, spec in CATALOG.items() if spec.routes)
    monkeypatch.setattr(bench_split, "ALL_IN_ONE", "benchmark-all-in-one")
    with pytest.raises(bench_split.BenchError) as raised:
        bench_split.check_names()
    assert str(raised.value).startswith(
        f"the stack name 'benchmark-all-in-one' makes {routed[0]}'s target group name too long"
    )


def test_a_failed_child_shows_its_stderr(tmp_path: Path) -> None:
    copy = bench_split.Copy(label="committed", directory=tmp_path, services=3, reference="a/b/c")
    program = "import sys; sys.stderr.write('no such stack: ' + sys.argv[1]); sys.exit(2)"
    with pytest.raises(bench_split.BenchError) as raised:
        bench_split.run(copy, [sys.executable, "-c", program, "bench-x"])
    assert str(raised.value) == (
        "in the committed copy, `python -c <program> bench-x` exited 2:\nno such stack: bench-x"
    )


def test_the_command_reports_a_failure_in_one_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail() -> None:
        raise bench_split.BenchError("in the large copy, `x` exited 2:\nboom")

    monkeypatch.setattr(bench_split, "measure", fail)
    assert bench_split.main() == 1
    assert capsys.readouterr().err == "error: in the large copy, `x` exited 2:\nboom\n"
