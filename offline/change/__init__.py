"""Changes between two renderings: the diff (diff.py, over model.py), what it will run into in AWS
(conflicts.py), which inputs replace a resource (replacements.py) or keep their deployed value
when left out (sticky.py), resources that move to service stacks (moves.py), and the text and
Markdown that show it (present.py); command.py holds the `diff` command. Imports render/ and
estimates/.
"""

from offline.change.conflicts import (
    config_changes,
    immutable_changes,
)
from offline.change.diff import (
    classify,
    diff,
)
from offline.change.model import (
    AFTER_DEPLOY,
    GLOBAL_CONFIG,
    STACK_MARKER,
    ConfigChange,
    Conflict,
    DeployChange,
    ImmutableChange,
    PropertyChange,
    Replacement,
    ResourceDiff,
    property_changes,
    show_value,
)
from offline.change.present import (
    format_markdown,
    format_text,
)

__all__ = [
    "AFTER_DEPLOY",
    "GLOBAL_CONFIG",
    "STACK_MARKER",
    "ConfigChange",
    "Conflict",
    "DeployChange",
    "ImmutableChange",
    "PropertyChange",
    "Replacement",
    "ResourceDiff",
    "classify",
    "config_changes",
    "diff",
    "format_markdown",
    "format_text",
    "immutable_changes",
    "property_changes",
    "show_value",
]
