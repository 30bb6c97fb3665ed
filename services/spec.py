"""The static description of a microservice: what does not change between environments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# A real, non-root HTTP server that listens on 8080 and answers 200 on `/`, so a first
# `pulumi up` gets healthy targets before the services ship images of their own.
DEFAULT_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine"
# The uid the nginx-unprivileged image runs as (its `nginx` user).
DEFAULT_IMAGE_USER = "101"


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    """One ALB listener rule: requests matching the patterns go to the service."""

    priority: int
    path_patterns: tuple[str, ...] = ()
    host_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PermissionSpec:
    """AWS actions the application may call, on these resources (its task role's policy)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    name: str
    """ECS service name and the key under `services` in stack config."""
    discovery_name: str
    """Name of the service in the Cloud Map namespace: `<discovery_name>.<namespace>`."""
    container_name: str
    container_port: int = 8080
    health_check_path: str = "/"
    routes: tuple[RouteSpec, ...] = ()
    calls: tuple[str, ...] = ()
    """Names of the services this one calls; each gets its URL as an environment variable."""
    image: str = DEFAULT_IMAGE
    user: str | None = DEFAULT_IMAGE_USER
    """The non-root user the image runs as; None if the image needs root."""
    image_prepares_tmp: bool = False
    """True if the image declares `VOLUME /tmp` owned by its user, so the task needs no init
    container to make the volume writable (Fargate creates it root-owned, mode 0755)."""
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    permissions: tuple[PermissionSpec, ...] = ()
    """What the application may do in AWS; without any, its task role has no permissions."""
    build: str | None = None
    """The app's directory, from the project's root (`apps/<service>`: its requirements.txt
    and package), whose image `pulumi up` builds with apps/Dockerfile from the shared context
    `apps/` (into an ECR repository of its own); `image` is then only the fallback for stacks
    that set no image and cannot build. None: run `image`."""
    table: bool = False
    """The service owns a DynamoDB table (partition key `id`), named in TABLE_NAME."""
    publishes: tuple[str, ...] = ()
    """Events (`<entity>.<verb>`, lowercase) made from its table's changes: `<entity>.created`
    when an item is inserted, `.updated` when one changes, `.deleted` when one is removed. An
    event exists exactly when its write committed (docs/events.md); the application publishes
    nothing itself. Needs `table`."""
    subscribes: tuple[str, ...] = ()
    """Events of other services it receives, on its own queue (EVENTS_QUEUE_URL)."""

    @property
    def url_variable(self) -> str:
        """The environment variable that carries this service's URL to its callers."""
        return self.name.upper().replace("-", "_") + "_URL"
