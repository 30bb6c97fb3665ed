"""What the rules of several topics share: fix texts and small readers."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from config.limits import (
    SECURITY_GROUP_RULES_DEFAULT_QUOTA,
)

CERTIFICATE_FIX = "arn:aws:acm:<region>:<account>:certificate/<id>"


SECRET_FIX = "arn:aws:secretsmanager:<region>:<account>:secret:<name>"
QUOTA_NOTE = (
    f"AWS's default quota is {SECURITY_GROUP_RULES_DEFAULT_QUOTA} rules per direction per "
    "security group; it can be raised on request"
)


def _cidr(text: str) -> ipaddress.IPv4Network | None:
    """An IPv4 block written as AWS wants it: address/mask, no host bits set."""
    if "/" not in text:
        return None
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        return None


def _nearest_at_least(value: int, allowed: Sequence[int]) -> int:
    return next((a for a in allowed if a >= value), allowed[-1])
