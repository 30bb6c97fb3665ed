"""`python -m offline preview` exits cleanly: exit code 0 and nothing on stderr, every time.

An event loop left open is closed by its `__del__` during the interpreter's final garbage
collection, which may finalize the loop's self-pipe socket first; `__del__` then prints
"ValueError: Invalid file descriptor: -1" on stderr. Whether it does depends on the collection's
order, so besides running the preview several times, one test forces that order.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

# Several preview processes, a few seconds each: make test-all.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
PREVIEW = ("-m", "offline", "preview", "--stack", "dev")
TIMEOUT_SECONDS = 60
RUNS = 3
PARALLEL = 2  # the preview is CPU-bound; more at once would only queue up

# Finalizes the self-pipe socket of every loop still open before the final collection does,
# which is the order that fails. The hook is registered before `offline` is imported, so it runs
# after the exit handlers `offline` registers (they run last-in, first-out); collection is
# disabled so that no loop is collected, in whatever order, before the hook sees it.
FORCED_ORDER = """
import asyncio
import atexit
import gc
import sys


def close_self_pipes_first() -> None:
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.BaseEventLoop) and not obj.is_closed():
            obj._ssock.close()


gc.disable()
atexit.register(close_self_pipes_first)

from offline.__main__ import main

sys.exit(main())
"""
FORCED_ORDER_PREVIEW = ("-c", FORCED_ORDER, *PREVIEW[2:])


class Exit(NamedTuple):
    code: int
    stdout: str
    stderr: str


def _start(arguments: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *arguments],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> Exit:
    stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    return Exit(process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def exits() -> list[Exit]:
    """The forced-order run, then the plain ones: all in one go, PARALLEL at a time."""
    commands = [FORCED_ORDER_PREVIEW, *[PREVIEW] * RUNS]
    results: list[Exit] = []
    for start in range(0, len(commands), PARALLEL):
        batch = [_start(command) for command in commands[start : start + PARALLEL]]
        try:
            results.extend(_finish(process) for process in batch)
        finally:  # after a timeout: no process outlives the test
            for process in batch:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
    return results


def test_no_event_loop_is_left_open_for_the_final_collection(exits: list[Exit]) -> None:
    forced = exits[0]
    assert (forced.code, forced.stderr) == (0, "")
    assert " + pulumi:pulumi:Stack" in forced.stdout


def test_preview_exits_cleanly_every_time(exits: list[Exit]) -> None:
    for run in exits[1:]:
        assert (run.code, run.stderr) == (0, "")
        assert " + pulumi:pulumi:Stack" in run.stdout
