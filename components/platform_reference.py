"""Read a platform stack's outputs, for a service stack, before anything is declared.

The values are read once, up front, so that the stack config can be validated against them
(contract version, endpoints, region) before a single resource is registered.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from config import CONTRACT_OUTPUT, VERSION_OUTPUT


def read_platform_outputs(reference: str) -> dict[str, Any]:
    """The contract outputs of the platform stack `<org>/<project>/<stack>`.

    A StackReference's values are Outputs; the SDK's own synchronous wait (the one it uses for
    synchronous invokes) turns them into plain values while the program is still starting.
    """
    stack = pulumi.StackReference("platform", stack_name=reference)
    outputs: dict[str, Any] = {}
    for name in (VERSION_OUTPUT, CONTRACT_OUTPUT):
        details = _sync_await(stack.get_output_details(name))
        outputs[name] = details.value if details.value is not None else details.secret_value
    return outputs
