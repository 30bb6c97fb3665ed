"""ServiceImage: a service's ECR repository and the image `pulumi up` builds into it.

The repository keeps tags immutable and scans every push; a lifecycle policy keeps the last
images. The image is built with `awsx.ecr.Image` (Docker must run where `pulumi up` runs) from
the apps' shared context (`apps/`) by the one `apps/Dockerfile`, whose build arguments name the
service's directory and package. It is tagged with a hash of what that build copies in (the
shared library `apps/service-kit/`, the Dockerfile and the service's own directory), so that a
change to the service's code or to the library pushes a new tag, and an unchanged one (or a
change to another service) pushes nothing. Its `image_uri` is the repository and the
pushed digest (`<repository>@sha256:...`, as awsx's ecr.Image returns it), so a task definition
built from it changes exactly when the image does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

# Docker platforms for ECS's runtime platform CPU architectures.
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
KEEP_IMAGES = 20
DOCKERFILE = "Dockerfile"
"""The one Dockerfile, at the root of the apps' shared build context."""
SHARED_LIBRARY = "service-kit"
"""The library every image installs, beside the apps in the shared build context."""


def context_hash(directory: Path, paths: Sequence[str] | None = None) -> str:
    """A hash of every file under `directory` (or only of `paths` in it, files or directories),
    by relative path and content; bytecode caches are not the code."""
    roots = [directory] if paths is None else [directory / path for path in paths]
    files = {f for root in roots for f in ([root] if root.is_file() else root.rglob("*"))}
    digest = hashlib.sha256()
    for path in sorted(p for p in files if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if "__pycache__" in relative.split("/"):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def app_package(directory: Path) -> str | None:
    """An app's package: the one directory in it with a `__main__.py` (what `python -m` runs);
    None when there is not exactly one."""
    packages = sorted(main.parent.name for main in directory.glob("*/__main__.py"))
    return packages[0] if len(packages) == 1 else None


@dataclass(frozen=True, kw_only=True)
class ImageBuild:
    """How one service's image is built: the shared context, the one Dockerfile, the build
    arguments naming the service, and a hash of exactly what that build copies in."""

    context: str
    dockerfile: str
    build_args: Mapping[str, str]
    content_hash: str


def image_build(project_root: Path, build: str) -> ImageBuild:
    """The build of the app in `build` (`apps/<service>`, from the project's root): its parent
    is the context that holds the Dockerfile and the shared library."""
    app = Path(build)
    context = app.parent
    package = app_package(project_root / app)
    if package is None:
        raise ValueError(f"{build} has no one package with a __main__.py")
    return ImageBuild(
        context=context.as_posix(),
        dockerfile=(context / DOCKERFILE).as_posix(),
        build_args={"SERVICE": app.name, "PACKAGE": package},
        content_hash=context_hash(project_root / context, [SHARED_LIBRARY, DOCKERFILE, app.name]),
    )


def image_tag(content_hash: str, cpu_architecture: str) -> str:
    """The tag of an image: its platform and a hash of its build context. Tags are immutable,
    so everything that changes the image is in the tag: the same code built for another
    architecture is another image, and must not be pushed to a tag that exists already."""
    return f"{PLATFORMS[cpu_architecture].removeprefix('linux/')}-{content_hash[:16]}"


def lifecycle_policy(keep: int) -> dict[str, object]:
    """Expire all but the newest `keep` images (ECR lifecycle policy parameters:
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html)."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the newest {keep} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep,
                },
                "action": {"type": "expire"},
            }
        ]
    }


@dataclass(frozen=True, kw_only=True)
class ServiceImageArgs:
    context: str
    """The directory the image is built from: the apps' shared context."""
    context_hash: str
    """Changes when anything the build copies in changes: the image's tag."""
    dockerfile: str | None = None
    """The Dockerfile, from the project's root (None: `Dockerfile` in the context)."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    """Docker build arguments (`ARG`): which service and package the Dockerfile builds."""
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    kms_encryption: bool = False
    """Encrypt the repository with KMS (AWS's key for ECR) instead of AES-256."""
    delete_images_with_repository: bool = False
    """Let a destroy delete the repository with its images (a teardown's choice)."""
    retain_on_delete: bool = False
    """Leave the repository and its images in the account when the stack is destroyed."""
    keep_images: int = KEEP_IMAGES


class ServiceImage(pulumi.ComponentResource):
    image_uri: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:service_image:ServiceImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[
                {"encryption_type": "KMS" if args.kms_encryption else "AES256"}
            ],
            force_delete=args.delete_images_with_repository,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-repository-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_images)),
            # One policy per repository: a replacement created first would be deleted with
            # the old one.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        image = awsx.ecr.Image(
            f"{name}-image",
            repository_url=repository.repository_url,
            context=args.context,
            dockerfile=args.dockerfile,
            args=dict(args.build_args) or None,
            platform=PLATFORMS[args.cpu_architecture],
            # Immutable tags: a new tag for every change of what goes into the image.
            image_tag=image_tag(args.context_hash, args.cpu_architecture),
            opts=child,
        )
        self.image_uri = image.image_uri
        self.repository_arn = repository.arn
        self.register_outputs({"imageUri": self.image_uri, "repositoryArn": self.repository_arn})
