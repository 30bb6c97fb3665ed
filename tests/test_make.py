"""The Makefile's targets as a newcomer runs them: what they print and how they exit. `make`
runs with this virtualenv (VENV=...) and is told not to set it up again."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests import workflows

# Each target starts a Python process or two: make test-all.
pytestmark = pytest.mark.slow


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return workflows.make(workflows.PROJECT, *args)


def test_preview_json_writes_the_document_alone() -> None:
    result = make("preview-json", "STACK=dev")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing but the document on stdout
    assert document["stack"] == "dev"


def test_diff_exits_0_once_it_has_shown_the_changes_and_says_so() -> None:
    changed = make("diff", "BASE=dev", "HEAD=prod")
    assert changed.returncode == 0, changed.stderr
    lines = changed.stdout.rstrip().splitlines()
    assert lines[0].startswith("dev → prod: ")
    assert lines[-1] == ("make diff: dev → prod has the changes shown above (exit code 0: shown)")
    same = make("diff", "BASE=dev", "HEAD=dev")
    assert same.returncode == 0
    assert same.stdout.splitlines()[0] == "dev → dev: no changes"
    assert "make diff:" not in same.stdout


def test_a_user_error_keeps_its_exit_code() -> None:
    result = make("diff", "BASE=dev", "HEAD=staging")
    assert result.returncode == 2
    assert result.stderr.startswith("error: 'staging' is neither a saved document nor a stack")


def test_service_without_a_name_says_how() -> None:
    result = make("service")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: make service NAME=<service-name>\n")
