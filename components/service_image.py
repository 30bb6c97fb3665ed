"""ServiceImage: a service's ECR repository and the image `pulumi up` builds into it.

The repository keeps tags immutable and scans every push; a lifecycle policy keeps the last
images. The image is built from the service's directory with `awsx.ecr.Image` (Docker must run
where `pulumi up` runs) and tagged with a hash of that directory, so that a code change pushes
a new tag and an unchanged one pushes nothing. Its `image_uri` is the repository and the
pushed digest (`<repository>@sha256:...`, as awsx's ecr.Image returns it), so a task definition
built from it changes exactly when the image does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

# Docker platforms for ECS's runtime platform CPU architectures.
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
KEEP_IMAGES = 20


def context_hash(directory: Path) -> str:
    """A hash of every file under `directory`, by relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if "__pycache__" in relative.split("/"):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
    """The directory the image is built from (its Dockerfile inside)."""
    context_hash: str
    """Changes when anything in the context changes: the image's tag."""
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
            platform=PLATFORMS[args.cpu_architecture],
            # Immutable tags: a new tag for every change of what goes into the image.
            image_tag=image_tag(args.context_hash, args.cpu_architecture),
            opts=child,
        )
        self.image_uri = image.image_uri
        self.repository_arn = repository.arn
        self.register_outputs({"imageUri": self.image_uri, "repositoryArn": self.repository_arn})
