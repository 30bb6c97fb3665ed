"""The allow-list of scripts/checkov_scan.py: the failed checks that do not apply to what this
program builds, or are risks the project accepts, each with the condition, read from the
preview document, that makes its reason true."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# --- the allow-list --------------------------------------------------------------------------
#
# A failed check is allowed only when it does not apply to what this program builds, or is a
# risk the project accepts for a stated reason (marked `accepted`). Each entry names the check,
# the Terraform type it fails on, the reason, and a condition read from the preview document
# that makes the reason true for the failing resource: if the program changes so that the
# reason no longer holds (dev's load balancer serves plain HTTP, say), the failure counts.

Resource = Mapping[str, Any]
Condition = Callable[[Sequence[Resource], Resource], bool]

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_RULE = "aws:wafv2/webAclRule:WebAclRule"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
TABLE = "aws:dynamodb/table:Table"
RELAY_ENVIRONMENT = frozenset({"EVENTS_TOPIC_ARN", "PUBLISHES"})


def _refers_to(value: Any, resource: Resource, *attributes: str) -> bool:
    """`value` is the deploy-time reference `${<resource>.<attribute>}`."""
    return isinstance(value, str) and value in {
        f"${{{resource['name']}.{attribute}}}" for attribute in attributes
    }


def _of_type(resources: Sequence[Resource], pulumi_type: str) -> list[Resource]:
    return [r for r in resources if r["type"] == pulumi_type]


def _forwards_to(actions: Any, target_group: Resource) -> bool:
    for action in actions or []:
        if _refers_to(action.get("targetGroupArn"), target_group, "arn"):
            return True
        groups = (action.get("forward") or {}).get("targetGroups") or []
        if any(_refers_to(g.get("arn"), target_group, "arn") for g in groups):
            return True
    return False


def http_only_redirects_to_https(resources: Sequence[Resource], rule: Resource) -> bool:
    """The rule opens only port 80 of load balancers whose port-80 listeners only redirect."""
    inputs = rule["inputs"]
    if inputs.get("fromPort") != 80 or inputs.get("toPort") != 80:
        return False
    group = inputs.get("securityGroupId")
    users = [
        r
        for r in resources
        if group in (r["inputs"].get("securityGroups") or [])
        or group in ((r["inputs"].get("networkConfiguration") or {}).get("securityGroups") or [])
    ]
    if not users or any(r["type"] != LOAD_BALANCER for r in users):
        return False
    listeners = [
        listener
        for listener in _of_type(resources, LISTENER)
        if any(_refers_to(listener["inputs"].get("loadBalancerArn"), lb, "arn") for lb in users)
        and listener["inputs"].get("port") == 80
    ]
    for listener in listeners:
        actions = listener["inputs"].get("defaultActions") or []
        if len(actions) != 1 or actions[0].get("type") != "redirect":
            return False
        if (actions[0].get("redirect") or {}).get("protocol") != "HTTPS":
            return False
        if any(
            _refers_to(r["inputs"].get("listenerArn"), listener, "arn")
            for r in _of_type(resources, LISTENER_RULE)
        ):
            return False
    return bool(listeners)


def forwarded_only_from_https(resources: Sequence[Resource], target_group: Resource) -> bool:
    """Every listener and listener rule that forwards to the target group is on HTTPS."""
    listeners = _of_type(resources, LISTENER)
    protocols: list[Any] = [
        listener["inputs"].get("protocol")
        for listener in listeners
        if _forwards_to(listener["inputs"].get("defaultActions"), target_group)
    ]
    for rule in _of_type(resources, LISTENER_RULE):
        if _forwards_to(rule["inputs"].get("actions"), target_group):
            on = [
                listener
                for listener in listeners
                if _refers_to(rule["inputs"].get("listenerArn"), listener, "arn")
            ]
            protocols.extend(listener["inputs"].get("protocol") for listener in on)
            if not on:
                return False
    return bool(protocols) and all(protocol == "HTTPS" for protocol in protocols)


def stream_relay(resources: Sequence[Resource], function: Resource) -> bool:
    """The function is an event relay (docs/events.md): invoked only by one event source
    mapping on a table's stream, one batch per shard at a time, that reports the batches it
    gives up to a queue; its environment names its topic and events, nothing secret."""
    mappings = [
        m
        for m in _of_type(resources, EVENT_SOURCE_MAPPING)
        if _refers_to(m["inputs"].get("functionName"), function, "arn", "name")
    ]
    tables = _of_type(resources, TABLE)
    variables = ((function["inputs"].get("environment") or {}).get("variables")) or {}
    return (
        len(mappings) == 1
        and any(
            _refers_to(mappings[0]["inputs"].get("eventSourceArn"), t, "streamArn") for t in tables
        )
        and mappings[0]["inputs"].get("parallelizationFactor") == 1
        and bool(
            ((mappings[0]["inputs"].get("destinationConfig") or {}).get("onFailure") or {}).get(
                "destinationArn"
            )
        )
        and set(variables) <= RELAY_ENVIRONMENT
    )


def alb_access_log_bucket(resources: Sequence[Resource], bucket: Resource) -> bool:
    """A load balancer delivers its access logs to the bucket."""
    return any(
        (lb["inputs"].get("accessLogs") or {}).get("enabled") is True
        and _refers_to((lb["inputs"].get("accessLogs") or {}).get("bucket"), bucket, "bucket", "id")
        for lb in _of_type(resources, LOAD_BALANCER)
    )


def alb_access_log_bucket_with_sse_s3(resources: Sequence[Resource], bucket: Resource) -> bool:
    """The load balancers' access-log bucket, encrypted by default with SSE-S3."""
    encrypted = any(
        _refers_to(c["inputs"].get("bucket"), bucket, "id", "bucket")
        and any(
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") == "AES256"
            for rule in c["inputs"].get("rules") or []
        )
        for c in _of_type(resources, BUCKET_ENCRYPTION)
    )
    return encrypted and alb_access_log_bucket(resources, bucket)


def access_log_lifecycle_covers_delivery(
    resources: Sequence[Resource], lifecycle: Resource
) -> bool:
    """The lifecycle of a load balancer's access-log bucket aborts incomplete uploads under
    `AWSLogs/`, the only prefix its bucket policy lets anything write to."""
    buckets = [
        b
        for b in _of_type(resources, BUCKET)
        if _refers_to(lifecycle["inputs"].get("bucket"), b, "id", "bucket")
        and alb_access_log_bucket(resources, b)
    ]
    rules = lifecycle["inputs"].get("rules") or []
    aborts = any(
        (r.get("filter") or {}).get("prefix") == "AWSLogs/"
        and r.get("status") == "Enabled"
        and "abortIncompleteMultipartUpload" in r
        for r in rules
    )
    writes_only_logs = all(
        all(
            "/AWSLogs/" in str(statement.get("Resource"))
            for statement in json.loads(p["inputs"].get("policy", "{}")).get("Statement", [])
            if statement.get("Effect") == "Allow"
        )
        for p in _of_type(resources, BUCKET_POLICY)
        if any(_refers_to(p["inputs"].get("bucket"), b, "id", "bucket") for b in buckets)
    )
    return bool(buckets) and aborts and writes_only_logs


def waf_blocks_log4j(resources: Sequence[Resource], load_balancer: Resource) -> bool:
    """A web ACL associated with the load balancer runs AWSManagedRulesKnownBadInputsRuleSet."""
    acls = [
        acl
        for acl in _of_type(resources, WEB_ACL)
        for association in _of_type(resources, WEB_ACL_ASSOCIATION)
        if _refers_to(association["inputs"].get("resourceArn"), load_balancer, "arn")
        and _refers_to(association["inputs"].get("webAclArn"), acl, "arn")
    ]
    for acl in acls:
        rules = list(acl["inputs"].get("rules") or []) + [
            r["inputs"]
            for r in _of_type(resources, WEB_ACL_RULE)
            if _refers_to(r["inputs"].get("webAclArn"), acl, "arn")
        ]
        for rule in rules:
            group = (rule.get("statement") or {}).get("managedRuleGroupStatement") or {}
            enforced = "none" in (rule.get("overrideAction") or {})  # not just counted
            if group.get("name") == "AWSManagedRulesKnownBadInputsRuleSet" and enforced:
                return True
    return False


@dataclass(frozen=True)
class Allowed:
    """A failed check that does not apply to the resources it fails on."""

    check_id: str
    terraform_type: str
    reason: str
    holds: Condition
    """The condition, read from the preview document, that makes the reason true."""
    accepted: bool = False
    """A risk accepted for the reason given, rather than a check that does not apply."""


# Keep this short: every entry is a check that cannot apply, not one that is inconvenient.
ALLOWED_FAILURES: tuple[Allowed, ...] = (
    Allowed(
        "CKV_AWS_260",
        "aws_vpc_security_group_ingress_rule",
        "port 80 is open only to listeners that answer every request with a redirect to HTTPS "
        "and have no rules, which is what ELB.1 / CKV2_AWS_20 ask for; no content is served "
        "over HTTP",
        http_only_redirects_to_https,
    ),
    Allowed(
        "CKV_AWS_378",
        "aws_lb_target_group",
        "the check accepts an HTTP target group forwarded to by an HTTPS listener, but follows "
        "only a listener's default action; this one is forwarded to only by listener rules on "
        "HTTPS listeners",
        forwarded_only_from_https,
    ),
    Allowed(
        "CKV_AWS_145",
        "aws_s3_bucket",
        "ALB access-log delivery supports only SSE-S3 (AES256) on the target bucket, not SSE-KMS; "
        "the bucket is encrypted with SSE-S3",
        alb_access_log_bucket_with_sse_s3,
    ),
    Allowed(
        "CKV_AWS_300",
        "aws_s3_bucket_lifecycle_configuration",
        "the rule that aborts incomplete uploads covers AWSLogs/, and the bucket policy lets ELB "
        "log delivery write nowhere else, so no upload can start outside it",
        access_log_lifecycle_covers_delivery,
    ),
    Allowed(
        "CKV_AWS_18",
        "aws_s3_bucket",
        "the bucket holds the load balancer's access logs; logging access to it needs a second "
        "bucket that this check flags the same way. Writes are limited to ELB log delivery by the "
        "bucket policy; object-level reads can be recorded with CloudTrail data events",
        alb_access_log_bucket,
        accepted=True,
    ),
    Allowed(
        "CKV_AWS_144",
        "aws_s3_bucket",
        "access logs are operational records, versioned and kept for the retention period; a "
        "copy in a second region would not help recover this stack",
        alb_access_log_bucket,
        accepted=True,
    ),
    Allowed(
        "CKV2_AWS_62",
        "aws_s3_bucket",
        "the ALB access-log bucket has no consumer of object events in this stack; an event "
        "notification would have no destination",
        alb_access_log_bucket,
    ),
    Allowed(
        "CKV2_AWS_76",
        "aws_lb",
        "the Log4j (CVE-2021-44228) protection it is named for is there: the associated web ACL "
        "enforces AWSManagedRulesKnownBadInputsRuleSet (CKV_AWS_192 passes on it); the check also "
        "demands AWSManagedRulesAnonymousIpList, which blocks clients behind VPNs, Tor and hosting "
        "providers, an access policy and no Log4j control",
        waf_blocks_log4j,
    ),
    # The event relays (docs/events.md, "What Checkov says about the relay").
    Allowed(
        "CKV_AWS_116",
        "aws_lambda_function",
        "a function's dead-letter queue receives failed asynchronous invocations; a stream's event "
        "source mapping invokes the relay synchronously, and sends the records it gives up to its "
        "on-failure destination (the relay's failure queue, which alarms)",
        stream_relay,
    ),
    Allowed(
        "CKV_AWS_115",
        "aws_lambda_function",
        "the mapping bounds the relay's concurrency: one batch per stream shard at a time "
        "(parallelization factor 1, which keeps an item's events in order); a reserved limit "
        "below the shard count would throttle it and delay events",
        stream_relay,
        accepted=True,
    ),
    Allowed(
        "CKV_AWS_117",
        "aws_lambda_function",
        "the relay reaches nothing in the VPC: Lambda reads the stream for it, and it calls SNS; "
        "in the VPC it would need a NAT gateway or an SNS interface endpoint to do the same",
        stream_relay,
        accepted=True,
    ),
    Allowed(
        "CKV_AWS_173",
        "aws_lambda_function",
        "the environment holds the relay's topic ARN and its event names, nothing secret; Lambda "
        "encrypts it at rest with its AWS managed key",
        stream_relay,
        accepted=True,
    ),
    Allowed(
        "CKV_AWS_272",
        "aws_lambda_function",
        "the code is apps/event-relay of this repository, uploaded by the stack's deploy role, "
        "which alone (with the account's administrators) may update it (docs/deploy-"
        "permissions.md); code signing would need an AWS Signer profile and a signing step",
        stream_relay,
        accepted=True,
    ),
    Allowed(
        "CKV_AWS_50",
        "aws_lambda_function",
        "active tracing needs xray:PutTraceSegments, which has no resource-level permission: a "
        "statement on `*` that the relay's role does not get; the relay is watched by its "
        "iterator-age alarm, its failure queue's alarm and its logs",
        stream_relay,
        accepted=True,
    ),
)
