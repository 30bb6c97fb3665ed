"""Placeholder for the relay's Lambda handler (the applications half of issue 22 writes it)."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("the event relay is not written yet")
