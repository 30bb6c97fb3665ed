"""Configuration from the environment: each reader returns a value or raises ConfigError, which
stops the service at start (exit code 2) with one log line naming the variable."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULT_PORT = 8080


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


def env_required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def env_url(environ: Mapping[str, str], name: str) -> str:
    """An http(s) base URL, without a trailing slash."""
    value = env_required(environ, name).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def env_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{name} must be more than 0 and at most 300 seconds, not {raw!r}")
    return value


def env_port(environ: Mapping[str, str]) -> int:
    raw = environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"PORT must be a TCP port number, not {raw!r}")
    return int(raw)


def env_region(environ: Mapping[str, str]) -> str:
    region = environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip()
    if not region:
        raise ConfigError("AWS_REGION is not set")
    return region
