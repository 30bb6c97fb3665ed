"""S3: public access blocked and TLS only (`aws:s3/...`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
)

from policies.control import (
    BUCKET,
    BUCKET_POLICY,
    PUBLIC_ACCESS_BLOCK,
    Declared,
    _referenced_by,
    _statements,
)

declare = Declared()
"""This area's controls, each declared above its check, in the table's order."""


@declare.resource(
    name="s3-public-access-blocked",
    ids="S3.8",
    description="Public access blocks on buckets block everything.",
    how="The access-log bucket blocks all four kinds of public access.",
    scope="all",
    on_unknown="deny",
    types=(PUBLIC_ACCESS_BLOCK,),
)
def _public_access_blocked(props: Mapping[str, Any]) -> Iterable[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [flag for flag in flags if props.get(flag) is not True]
    if off:
        yield f"public access is not fully blocked: {', '.join(off)} not true"


@declare.stack(
    name="s3-bucket-has-public-access-block",
    ids="S3.8",
    description="Every bucket the stack creates has a public access block.",
    how="The only bucket, for access logs, has its public access block.",
    scope="all",
    on_unknown="deny",
)
def _buckets_have_public_access_blocks(
    resources: Sequence[PolicyResource],
) -> Iterable[tuple[str, str | None]]:
    blocked = _referenced_by(resources, PUBLIC_ACCESS_BLOCK, "bucket")
    for bucket in resources:
        if bucket.resource_type == BUCKET and bucket.urn not in blocked:
            yield ("the bucket has no public access block", bucket.urn)


@declare.resource(
    name="s3-tls-only",
    ids="S3.5",
    description="Bucket policies deny requests that do not use TLS.",
    how="The bucket policy denies requests without TLS.",
    scope="all",
    # The policy names the bucket's ARN, unknown until the bucket exists.
    on_unknown="allow",
    types=(BUCKET_POLICY,),
)
def _tls_only(props: Mapping[str, Any]) -> Iterable[str]:
    for statement in _statements(props["policy"]):
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        if (
            statement.get("Effect") == "Deny"
            and str(condition.get("aws:SecureTransport")) == "false"
        ):
            return
    yield "the bucket policy does not deny requests without TLS (aws:SecureTransport false)"


CONTROLS = declare.controls()
