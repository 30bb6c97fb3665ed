"""Compute: the ECS cluster (cluster.py), each service's image (image.py), the containers of its
task (containers.py) and their IAM documents (task_iam.py), the service itself
(ecs_service/), and the release-time model EcsService bounds its wait with (release_time.py,
which the offline estimates use too).
"""

from components.compute import release_time
from components.compute.cluster import (
    FARGATE_CAPACITY_PROVIDERS,
    CapacityProviderShare,
    EcsCluster,
    EcsClusterArgs,
    strategy_inputs,
)
from components.compute.containers import (
    PREPARE_TMP_CONTAINER,
    PREPARE_TMP_IMAGE,
    TMP_VOLUME,
    Container,
    container_definition,
    prepare_tmp_definition,
    task_containers,
)
from components.compute.ecs_service import EcsService, EcsServiceArgs
from components.compute.image import (
    DOCKERFILE,
    KEEP_IMAGES,
    PLATFORMS,
    SHARED_LIBRARY,
    ImageBuild,
    ServiceImage,
    ServiceImageArgs,
    app_package,
    context_hash,
    image_build,
    image_tag,
    lifecycle_policy,
)
from components.compute.task_iam import (
    assume_role_policy,
    ecr_repository_arn,
    execution_policy,
    secret_resources,
    task_policy,
)

__all__ = [
    "DOCKERFILE",
    "FARGATE_CAPACITY_PROVIDERS",
    "KEEP_IMAGES",
    "PLATFORMS",
    "PREPARE_TMP_CONTAINER",
    "PREPARE_TMP_IMAGE",
    "SHARED_LIBRARY",
    "TMP_VOLUME",
    "CapacityProviderShare",
    "Container",
    "EcsCluster",
    "EcsClusterArgs",
    "EcsService",
    "EcsServiceArgs",
    "ImageBuild",
    "ServiceImage",
    "ServiceImageArgs",
    "app_package",
    "assume_role_policy",
    "container_definition",
    "context_hash",
    "ecr_repository_arn",
    "execution_policy",
    "image_build",
    "image_tag",
    "lifecycle_policy",
    "prepare_tmp_definition",
    "release_time",
    "secret_resources",
    "strategy_inputs",
    "task_containers",
    "task_policy",
]
