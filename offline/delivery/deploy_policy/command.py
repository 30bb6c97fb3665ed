"""`python -m offline deploy-policy`: the policy a service stack's deploy role needs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from offline.delivery.deploy_policy.arns import (
    ACCOUNT_ID,
    ACCOUNT_PLACEHOLDER,
    BUCKET_NAME,
    DIY_ORGANIZATION,
    PLATFORM_KEY,
)
from offline.delivery.deploy_policy.scope import (
    StackScope,
    platform_reference,
    scope_from_rendering,
)
from offline.delivery.deploy_policy.statements import build_policy, dumps
from offline.render.harness import render
from offline.render.stackfile import StackFileError, load_stack_config

EXIT_OK = 0
EXIT_USER_ERROR = 2


class DeployPolicyError(Exception):
    """A mistake of the user's: reported as one line, exit code 2."""


def policy_for_stack(
    stack: str,
    project_dir: Path,
    *,
    account: str = ACCOUNT_PLACEHOLDER,
    state_bucket: str | None = None,
) -> tuple[dict[str, Any], StackScope]:
    """Render the service stack `stack` and build its deploy role's policy."""
    if account != ACCOUNT_PLACEHOLDER and not ACCOUNT_ID.match(account):
        raise DeployPolicyError(f"--account {account!r} is not a 12-digit AWS account id")
    if state_bucket is not None and not BUCKET_NAME.match(state_bucket):
        raise DeployPolicyError(f"--state-bucket {state_bucket!r} is not an S3 bucket name")
    config = load_stack_config(stack, project_dir)
    if platform_reference(config.config, config.project) is None:
        raise DeployPolicyError(
            f"'{stack}' is not a service stack: Pulumi.{stack}.yaml has no "
            f"{config.project}:{PLATFORM_KEY} key. deploy-policy writes the policy of a service "
            "stack's deploy role; for a platform or all-in-one stack see "
            "docs/deploy-permissions.md"
        )
    try:
        rendering = render(stack, project_dir=project_dir)
        scope = scope_from_rendering(rendering)
    except (pulumi.RunError, ValueError) as error:
        # A config error of the stack, or a stack this policy does not cover (see above).
        raise DeployPolicyError(str(error)) from None
    return build_policy(scope, account=account, state_bucket=state_bucket), scope


def add_deploy_policy_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "deploy-policy",
        help="the IAM policy a service stack's deploy role needs",
        description="Print the identity policy that lets `pulumi up` and `pulumi destroy` of "
        "one service stack succeed, scoped to that stack's services.",
    )
    parser.add_argument("--stack", required=True, help="a service stack (platform: <org>/...)")
    parser.add_argument(
        "--account",
        default=ACCOUNT_PLACEHOLDER,
        help=f"the 12-digit AWS account id (default: the placeholder {ACCOUNT_PLACEHOLDER})",
    )
    parser.add_argument(
        "--state-bucket",
        metavar="BUCKET",
        help="the S3 bucket of a self-managed state backend (default: Pulumi Cloud, which "
        "needs no IAM permission)",
    )


BROAD_KEY_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")
"""What a team's role may do to any key of the account and region: KMS names keys by ids it
assigns, so no statement can tell this stack's keys apart (see build_policy)."""


def broad_key_notes(policy: Mapping[str, Any]) -> list[str]:
    """One line for each of BROAD_KEY_ACTIONS the policy grants on every key (`key/*`), with
    its condition: a reviewer must know the role reaches other teams' keys too."""
    notes = []
    for statement in policy.get("Statement", ()):
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        for action in statement["Action"]:
            if action not in BROAD_KEY_ACTIONS or not any(r.endswith(":key/*") for r in resources):
                continue
            condition = statement.get("Condition")
            limited = f", only with {json.dumps(condition, sort_keys=True)}" if condition else ""
            notes.append(
                f"note: statement {statement['Sid']} grants {action} on every KMS key of the "
                f"account and region ({', '.join(resources)}){limited}: KMS names keys by ids it "
                "assigns, so the policy cannot tell this stack's keys apart; every team role "
                "holds it, so it reaches other teams' keys too (those whose key policy lets IAM "
                "policies decide, as this program's keys do)"
            )
    return notes


ROLE_INLINE_POLICY_MAX_CHARACTERS = 10_240
"""IAM quotas: a role's inline policies hold at most 10,240 characters together, whitespace not
counted; a managed policy 6,144 (IAM User Guide, reference_iam-quotas)."""


def size_note(policy: Mapping[str, Any]) -> str | None:
    """A note when the policy is too long to be one role's inline policy."""
    characters = len("".join(json.dumps(policy).split()))
    if characters <= ROLE_INLINE_POLICY_MAX_CHARACTERS:
        return None
    return (
        f"note: this policy has {characters} characters without whitespace; a role's inline "
        f"policies hold at most {ROLE_INLINE_POLICY_MAX_CHARACTERS:,} (IAM quotas): split its "
        "statements over customer managed policies (6,144 characters each) attached to the "
        "deploy role"
    )


def run_deploy_policy(args: argparse.Namespace, project_dir: Path) -> int:
    try:
        policy, scope = policy_for_stack(
            args.stack, project_dir, account=args.account, state_bucket=args.state_bucket
        )
    except (DeployPolicyError, StackFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    organization = scope.platform_reference.split("/", 1)[0]
    if args.state_bucket is not None and organization != DIY_ORGANIZATION:
        print(
            f"note: with an S3 backend the platform reference is "
            f"{DIY_ORGANIZATION}/{scope.project}/{scope.platform_stack}, not "
            f"{scope.platform_reference}: the self-managed backend has one organization, named "
            f"'{DIY_ORGANIZATION}'",
            file=sys.stderr,
        )
    for note in broad_key_notes(policy):
        print(note, file=sys.stderr)
    too_long = size_note(policy)
    if too_long is not None:
        print(too_long, file=sys.stderr)
    sys.stdout.write(dumps(policy))
    return EXIT_OK
