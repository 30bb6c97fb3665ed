"""The self-managed (S3) backend's layout: the state keys a service stack writes and reads."""

from __future__ import annotations

from offline.delivery.deploy_policy.arns import DIY_ORGANIZATION


def state_file(project: str, stack: str) -> str:
    """A stack's checkpoint: `.pulumi/stacks/<project>/<stack>.json` (`.json.gz` or `.json.zst`
    when compressed, `.json.bak` its backup; pkg/backend/diy/store.go, state.go)."""
    return f".pulumi/stacks/{project}/{stack}.json"


def own_state_keys(project: str, stack: str) -> tuple[str, ...]:
    """Key patterns a stack's `pulumi up` and `pulumi destroy` write under the bucket."""
    return (
        f"{state_file(project, stack)}*",  # the checkpoint, compressed variants, backup
        f".pulumi/stacks/{project}/{stack}.pulumi-tags",  # stack tags (stack_tags.go)
        f".pulumi/backups/{project}/{stack}/*",  # BackupDir
        f".pulumi/history/{project}/{stack}/*",  # HistoryDir
        f".pulumi/journal/{project}/{stack}/*",  # JournalDir
        # Locks: .pulumi/locks/<fully qualified stack name>/<lock id>.json (lock.go).
        f".pulumi/locks/{DIY_ORGANIZATION}/{project}/{stack}/*",
    )


def read_only_state_keys(project: str, platform_stack: str) -> tuple[str, ...]:
    """What the stack only reads: the backend's metadata (meta.go) and its platform's state,
    which the StackReference to the platform loads."""
    return (".pulumi/meta.yaml", f"{state_file(project, platform_stack)}*")
