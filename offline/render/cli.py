"""What the commands share: a user's mistake (reported as one line, exit code 2) and the
rendering of a stack, or of a whole environment, that most commands start from."""

from __future__ import annotations

from pathlib import Path

import pulumi

from offline.render.environments import render_environment
from offline.render.harness import Rendering, render
from offline.render.stackfile import available_stacks

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USER_ERROR = 2


class UserError(Exception):
    """A mistake of the user's: reported as one line, exit code 2."""


def render_stack(stack: str, project_dir: Path, *, whole_environment: bool = False) -> Rendering:
    """`whole_environment`: a platform stack with its service stacks (the architecture)."""
    try:
        if whole_environment and stack in available_stacks(project_dir):
            return render_environment(stack, project_dir)
        return render(stack, project_dir=project_dir)
    except pulumi.RunError as error:
        raise UserError(str(error)) from None
