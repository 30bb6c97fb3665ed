"""The CrossGuard pack, run the way the engine runs it: every policy on every resource of the
rendered stacks, on resources built to violate each control, and on values unknown at preview.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.compute import prepare_tmp_definition
from offline.render.harness import Rendering

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
sys.path.insert(0, str(POLICY_DIR))
from policies import (  # noqa: E402
    CONTROLS,
    TMP_PREPARATION_COMMAND,
    TMP_PREPARATION_IMAGE,
    policies,
)

BY_NAME = {policy.name: policy for policy in policies()}
LEVELS_BY_ENVIRONMENT = {
    environment: json.loads((POLICY_DIR / "config" / f"{environment}.json").read_text())
    for environment in ("development", "production")
}
URN = "urn:pulumi:test::microservices::{type}::{name}"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def run_resource(policy_name: str, type_: str, props: Mapping[str, Any]) -> list[str]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    args = ResourceValidationArgs(
        type_,
        unknown_checking_proxy(dict(props)),
        URN.format(type=type_, name="r"),
        "r",
        _options(),
        None,
    )
    policy.validate(args, lambda message, _urn=None: found.append(message))
    return found


def _policy_resources(
    items: Sequence[tuple[str, str, Mapping[str, Any], Mapping[str, list[str]]]],
) -> list[PolicyResource]:
    """(type, name, props, property -> names it depends on) as the engine hands them over."""
    built: dict[str, PolicyResource] = {}
    for type_, name, props, _ in items:
        built[name] = PolicyResource(
            type_,
            unknown_checking_proxy(dict(props)),
            URN.format(type=type_, name=name),
            name,
            _options(),
            None,
            None,
            [],
            {},
        )
    for _, name, _, depends in items:
        built[name].property_dependencies = {
            key: [built[other] for other in others] for key, others in depends.items()
        }
    return list(built.values())


def run_stack(policy_name: str, resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources), lambda m, urn=None: found.append((m, urn)))
    return found


def rendered_violations(rendering: Rendering) -> dict[str, list[str]]:
    """policy name -> violations, over every resource of a rendered stack."""
    found: dict[str, list[str]] = {}
    by_urn: dict[str, PolicyResource] = {}
    for resource in rendering.resources:
        by_urn[resource.urn] = PolicyResource(
            resource.type,
            unknown_checking_proxy(dict(resource.inputs)),
            resource.urn,
            resource.name,
            _options(),
            None,
            None,
            [],
            {},
        )
    for resource in rendering.resources:
        by_urn[resource.urn].property_dependencies = {
            key: [by_urn[urn] for urn in urns if urn in by_urn]
            for key, urns in resource.property_dependencies.items()
        }
    for policy in policies():
        if isinstance(policy, StackValidationPolicy):
            policy.validate(
                StackValidationArgs(list(by_urn.values())),
                lambda m, urn=None, name=policy.name: found.setdefault(name, []).append(
                    f"{urn}: {m}"
                ),
            )
            continue
        for resource in rendering.resources:
            args = ResourceValidationArgs(
                resource.type,
                unknown_checking_proxy(dict(resource.inputs)),
                resource.urn,
                resource.name,
                _options(),
                None,
            )
            policy.validate(
                args,
                lambda m, _urn=None, name=policy.name, r=resource.name: found.setdefault(
                    name, []
                ).append(f"{r}: {m}"),
            )
    return found


# --- the rendered stacks ------------------------------------------------------------------------


def test_prod_meets_every_control(prod: Rendering) -> None:
    assert LEVELS_BY_ENVIRONMENT["production"] == {}  # everything mandatory
    assert rendered_violations(prod) == {}


def test_dev_has_no_mandatory_violation(dev: Rendering) -> None:
    found = rendered_violations(dev)
    advisory = LEVELS_BY_ENVIRONMENT["development"]
    assert {name for name in found if advisory.get(name) != "advisory"} == set()
    # What dev leaves out on purpose: plain HTTP, no WAF, flow logs, KMS, access logs or
    # deletion protection, and a week of logs.
    assert set(found) == {
        "cloudwatch-log-group-kms",
        "cloudwatch-log-retention-one-year",
        "ec2-vpc-flow-logs",
        "elb-access-logs",
        "elb-deletion-protection",
        "elb-http-redirects-to-https",
        "elb-waf",
        # Dev's alarms notify but do not roll releases back.
        "ecs-release-rollback",
    }


def test_every_control_is_a_policy_citing_its_ids() -> None:
    assert [c.name for c in CONTROLS] == [p.name for p in policies()]
    for control in CONTROLS:
        assert BY_NAME[control.name].description.startswith(f"[{control.ids}] ")
    assert set(LEVELS_BY_ENVIRONMENT["development"]) == {
        c.name for c in CONTROLS if c.scope == "production"
    }


# --- each control: a violation, a pass, and an unknown value -----------------------------------

TD = "aws:ecs/taskDefinition:TaskDefinition"
GOOD_CONTAINER = {
    "name": "app",
    "essential": True,
    "user": "101",
    "readonlyRootFilesystem": True,
    "privileged": False,
    "environment": [{"name": "LOG_LEVEL", "value": "info"}],
    "logConfiguration": {"logDriver": "awslogs"},
}


def task(**changes: Any) -> dict[str, Any]:
    container = {**GOOD_CONTAINER, **changes}
    return {
        "containerDefinitions": json.dumps([container]),
        "taskRoleArn": "arn:task",
        "executionRoleArn": "arn:exec",
    }


ALB = "aws:lb/loadBalancer:LoadBalancer"
GOOD_ALB = {
    "loadBalancerType": "application",
    "dropInvalidHeaderFields": True,
    "desyncMitigationMode": "defensive",
    "enableDeletionProtection": True,
    "accessLogs": {"bucket": "b", "enabled": True},
}
LISTENER = "aws:lb/listener:Listener"
REDIRECT = {
    "port": 80,
    "protocol": "HTTP",
    "defaultActions": [
        {
            "type": "redirect",
            "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"},
        }
    ],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        }
    ],
}

# policy, type, passing props, violating props, expected message, props with an unknown value
SAFE_RELEASE = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "alarms": {"alarmNames": ["app-5xx-rate"], "enable": True, "rollback": True},
}

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str, dict[str, Any]]] = [
    (
        "ecs-release-rollback",
        "aws:ecs/service:Service",
        SAFE_RELEASE,
        {
            **SAFE_RELEASE,
            "alarms": {"alarmNames": ["app-5xx-rate"], "enable": True, "rollback": False},
        },
        "no deployment alarms with rollback: name the release alarms in the service's alarms "
        "block with enable and rollback",
        {
            **SAFE_RELEASE,
            "alarms": {"alarmNames": ["x"], "enable": True, "rollback": UNKNOWN_STRING_VALUE},
        },
    ),
    (
        "ecs-no-public-ip",
        "aws:ecs/service:Service",
        {"networkConfiguration": {"assignPublicIp": False}},
        {"networkConfiguration": {"assignPublicIp": True}},
        "tasks get a public IP: set networkConfiguration.assignPublicIp to false",
        {"networkConfiguration": {"assignPublicIp": UNKNOWN_STRING_VALUE}},
    ),
    (
        "ecs-not-privileged",
        TD,
        task(),
        task(privileged=True),
        "container 'app' is privileged",
        {"containerDefinitions": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-no-host-namespaces",
        TD,
        task(),
        {**task(), "pidMode": "host"},
        "pidMode is host: the task shares the host's namespace",
        {**task(), "pidMode": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-read-only-root",
        TD,
        task(),
        task(readonlyRootFilesystem=False),
        "container 'app' has a writable root filesystem: set readonlyRootFilesystem and mount a "
        "volume for what it writes",
        {"containerDefinitions": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-no-secrets-in-environment",
        TD,
        task(),
        task(environment=[{"name": "DB_PASSWORD", "value": "x"}]),
        "container 'app' passes DB_PASSWORD in `environment`: use `secrets` with a Secrets "
        "Manager or SSM parameter ARN",
        {"containerDefinitions": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-containers-log",
        TD,
        task(),
        task(logConfiguration=None),
        "container 'app' has no logConfiguration.logDriver",
        {"containerDefinitions": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-service-connect-logs",
        "aws:ecs/service:Service",
        {
            "serviceConnectConfiguration": {
                "enabled": True,
                "logConfiguration": {"logDriver": "awslogs"},
            }
        },
        {"serviceConnectConfiguration": {"enabled": True}},
        "Service Connect is on and its proxy has no logConfiguration.logDriver: set "
        "serviceConnectConfiguration.logConfiguration",
        {"serviceConnectConfiguration": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-container-insights",
        "aws:ecs/cluster:Cluster",
        {"settings": [{"name": "containerInsights", "value": "enhanced"}]},
        {"settings": [{"name": "containerInsights", "value": "disabled"}]},
        "Container Insights is off: set the containerInsights setting to enabled",
        {"settings": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-non-root-user",
        TD,
        task(),
        task(user="0"),
        "container 'app' runs as root: set `user` to the non-root uid its image runs as",
        {"containerDefinitions": UNKNOWN_STRING_VALUE},
    ),
    (
        "ecs-separate-task-and-execution-roles",
        TD,
        task(),
        {**task(), "executionRoleArn": "arn:task"},
        "the task role and the execution role are the same role",
        {**task(), "taskRoleArn": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-http-redirects-to-https",
        LISTENER,
        REDIRECT,
        {"port": 80, "protocol": "HTTP", "defaultActions": [{"type": "fixed-response"}]},
        "an HTTP listener serves traffic: its default action must redirect to HTTPS",
        {"protocol": "HTTP", "defaultActions": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-drop-invalid-headers",
        ALB,
        GOOD_ALB,
        {**GOOD_ALB, "dropInvalidHeaderFields": False},
        "dropInvalidHeaderFields is not true",
        {**GOOD_ALB, "dropInvalidHeaderFields": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-access-logs",
        ALB,
        GOOD_ALB,
        {**GOOD_ALB, "accessLogs": {"bucket": "b", "enabled": False}},
        "access logs are off: set accessLogs with a bucket and enabled true",
        {**GOOD_ALB, "accessLogs": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-deletion-protection",
        ALB,
        GOOD_ALB,
        {**GOOD_ALB, "enableDeletionProtection": False},
        "deletion protection is off",
        {**GOOD_ALB, "enableDeletionProtection": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-desync-mitigation",
        ALB,
        GOOD_ALB,
        {**GOOD_ALB, "desyncMitigationMode": "monitor"},
        "desyncMitigationMode is not set to defensive or strictest",
        {**GOOD_ALB, "desyncMitigationMode": UNKNOWN_STRING_VALUE},
    ),
    (
        "elb-tls13-policy",
        LISTENER,
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
        "HTTPS listener with ssl policy 'ELBSecurityPolicy-2016-08': set a TLS 1.3 policy such "
        "as ELBSecurityPolicy-TLS13-1-2-2021-06",
        {"protocol": "HTTPS", "sslPolicy": UNKNOWN_STRING_VALUE},
    ),
    (
        "ec2-default-security-group-closed",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        {"vpcId": "vpc-1"},
        {"vpcId": "vpc-1", "ingress": [{"protocol": "-1", "self": True}]},
        "the VPC's default security group has rules: leave ingress and egress empty",
        {"vpcId": "vpc-1", "ingress": UNKNOWN_STRING_VALUE},
    ),
    (
        "security-groups-described",
        "aws:ec2/securityGroup:SecurityGroup",
        {"description": "orders: ECS tasks"},
        {"description": ""},
        "no description",
        {"description": UNKNOWN_STRING_VALUE},
    ),
    (
        "security-groups-public-ingress-only-web",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443},
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
        "address-range ingress on tcp 22-22: only the load balancer may be open to address "
        "ranges, on 80 and 443; services admit security groups",
        {"cidrIpv4": UNKNOWN_STRING_VALUE, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
    ),
    (
        "iam-no-wildcard-actions",
        "aws:iam/rolePolicy:RolePolicy",
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents"}]})},
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": ["s3:*"]}]})},
        "allows every action of 's3:*': name the actions it needs",
        {"policy": UNKNOWN_STRING_VALUE},
    ),
    (
        "iam-ecs-trust-source-account",
        "aws:iam/role:Role",
        {"assumeRolePolicy": json.dumps(TRUST)},
        {
            "assumeRolePolicy": json.dumps(
                {"Statement": [{**TRUST["Statement"][0], "Condition": {}}]}
            )
        },
        "ecs-tasks.amazonaws.com may assume the role without an aws:SourceAccount condition",
        {"assumeRolePolicy": UNKNOWN_STRING_VALUE},
    ),
    (
        "cloudwatch-log-retention",
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 7},
        {"name": "/ecs/x"},
        "the log group keeps its logs forever: set retentionInDays",
        {"retentionInDays": UNKNOWN_STRING_VALUE},
    ),
    (
        "cloudwatch-log-retention-one-year",
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 365},
        {"retentionInDays": 30},
        "retention 30 days is under the 365 days production keeps logs",
        {"retentionInDays": UNKNOWN_STRING_VALUE},
    ),
    (
        "cloudwatch-log-group-kms",
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k"},
        {"retentionInDays": 365},
        "the log group is not encrypted with a customer-managed KMS key",
        {"kmsKeyId": UNKNOWN_STRING_VALUE},
    ),
    (
        "s3-public-access-blocked",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        {
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True},
        "public access is not fully blocked: restrictPublicBuckets not true",
        {"blockPublicAcls": UNKNOWN_STRING_VALUE},
    ),
    (
        "s3-tls-only",
        "aws:s3/bucketPolicy:BucketPolicy",
        {
            "policy": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                }
            )
        },
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:PutObject"}]})},
        "the bucket policy does not deny requests without TLS (aws:SecureTransport false)",
        {"policy": UNKNOWN_STRING_VALUE},
    ),
]


def test_every_resource_control_has_cases() -> None:
    resource_controls = {c.name for c in CONTROLS if c.check is not None}
    assert {case[0] for case in CASES} == resource_controls


@pytest.mark.parametrize(
    ("name", "type_", "good", "bad", "message", "_"), CASES, ids=[c[0] for c in CASES]
)
def test_control_reports_a_violation_and_passes_a_compliant_resource(
    name: str, type_: str, good: dict[str, Any], bad: dict[str, Any], message: str, _: Any
) -> None:
    assert run_resource(name, type_, good) == []
    assert run_resource(name, type_, bad) == [message]


@pytest.mark.parametrize(
    ("name", "type_", "unknown"), [(c[0], c[1], c[5]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_unknown_values_are_decided_explicitly(
    name: str, type_: str, unknown: dict[str, Any]
) -> None:
    control = next(c for c in CONTROLS if c.name == name)
    found = run_resource(name, type_, unknown)
    if control.on_unknown == "deny":
        assert len(found) == 1 and found[0].startswith(
            "cannot be verified before the value is known:"
        )
    else:
        assert found == []


def test_the_tmp_preparation_container_is_the_only_root_exception() -> None:
    prepare = {
        "name": "prepare-tmp",
        "image": TMP_PREPARATION_IMAGE,
        "essential": False,
        "user": "0",
        "entryPoint": ["/bin/chmod"],
        "command": ["1777", "/tmp"],
        "mountPoints": [{"containerPath": "/tmp"}],
        "readonlyRootFilesystem": True,
    }
    definitions = {"containerDefinitions": json.dumps([prepare, GOOD_CONTAINER])}
    assert run_resource("ecs-non-root-user", TD, definitions) == []
    sneaky_variants = (
        {**prepare, "entryPoint": ["/bin/sh", "-c"], "command": ["chmod 1777 /tmp && ./serve"]},
        # The same command in the application's image could run anything that image holds.
        {**prepare, "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"},
    )
    for sneaky in sneaky_variants:
        definitions = {"containerDefinitions": json.dumps([sneaky, GOOD_CONTAINER])}
        assert run_resource("ecs-non-root-user", TD, definitions) == [
            "container 'prepare-tmp' runs as root: set `user` to the non-root uid its image runs as"
        ]


def test_release_rollback_needs_the_circuit_breaker_and_named_alarms() -> None:
    no_breaker = {**SAFE_RELEASE, "deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    assert run_resource("ecs-release-rollback", "aws:ecs/service:Service", no_breaker) == [
        "the deployment circuit breaker is off or does not roll back: set "
        "deploymentCircuitBreaker to enable and rollback"
    ]
    unnamed = {**SAFE_RELEASE, "alarms": {"alarmNames": [], "enable": True, "rollback": True}}
    assert run_resource("ecs-release-rollback", "aws:ecs/service:Service", unnamed) == [
        "the alarms block names no alarm: list the alarms that mean a bad release"
    ]
    assert run_resource("ecs-release-rollback", "aws:ecs/service:Service", {}) == [
        "the deployment circuit breaker is off or does not roll back: set "
        "deploymentCircuitBreaker to enable and rollback",
        "no deployment alarms with rollback: name the release alarms in the service's alarms "
        "block with enable and rollback",
    ]


def test_the_pack_knows_the_programs_tmp_preparation() -> None:
    # The pack runs in its own virtualenv and repeats the program's values.
    definition = prepare_tmp_definition(log_group="/ecs/x", region="us-east-1")
    assert definition["image"] == TMP_PREPARATION_IMAGE
    assert (definition["entryPoint"], definition["command"]) == TMP_PREPARATION_COMMAND


# --- stack controls ------------------------------------------------------------------------------


def test_waf_control() -> None:
    alb = (ALB, "alb", GOOD_ALB, {})
    association = (
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "assoc",
        {"resourceArn": UNKNOWN_STRING_VALUE},
        {"resourceArn": ["alb"]},
    )
    assert run_stack("elb-waf", _policy_resources([alb, association])) == []
    assert run_stack("elb-waf", _policy_resources([alb])) == [
        ("the ALB has no AWS WAF web ACL", URN.format(type=ALB, name="alb"))
    ]


def test_flow_logs_control() -> None:
    vpc = ("awsx:ec2:Vpc", "vpc", {}, {})
    flow_log = (
        "aws:ec2/flowLog:FlowLog",
        "fl",
        {"vpcId": UNKNOWN_STRING_VALUE},
        {"vpcId": ["vpc"]},
    )
    assert run_stack("ec2-vpc-flow-logs", _policy_resources([vpc, flow_log])) == []
    assert run_stack("ec2-vpc-flow-logs", _policy_resources([vpc])) == [
        (
            "the VPC has no flow log to CloudWatch Logs or S3",
            URN.format(type="awsx:ec2:Vpc", name="vpc"),
        )
    ]


def test_flow_logs_control_matches_vpcs_as_the_engine_shows_them() -> None:
    # The engine also shows the awsx component's child VPC; the flow log reads the
    # component's output. A second VPC without a flow log is still reported.
    vpc = ("awsx:ec2:Vpc", "vpc", {}, {})
    child = ("aws:ec2/vpc:Vpc", "vpc-child", {"cidrBlock": "10.20.0.0/16"}, {})
    other = ("aws:ec2/vpc:Vpc", "other", {"cidrBlock": "10.30.0.0/16"}, {})
    flow_log = (
        "aws:ec2/flowLog:FlowLog",
        "fl",
        {"vpcId": UNKNOWN_STRING_VALUE},
        {"vpcId": ["vpc"]},
    )
    resources = _policy_resources([vpc, child, other, flow_log])
    by_name = {r.name: r for r in resources}
    by_name["vpc-child"].parent = by_name["vpc"]
    assert run_stack("ec2-vpc-flow-logs", resources) == [
        (
            "the VPC has no flow log to CloudWatch Logs or S3",
            URN.format(type="aws:ec2/vpc:Vpc", name="other"),
        )
    ]


def test_key_policies_allow_only_the_default_administration_statement() -> None:
    def key(principal: dict[str, Any]) -> dict[str, Any]:
        statement = {"Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"}
        return {"enableKeyRotation": True, "policy": json.dumps({"Statement": [statement]})}

    root = {"AWS": "arn:aws:iam::111122223333:root"}
    assert run_resource("iam-no-wildcard-actions", "aws:kms/key:Key", key(root)) == []
    assert run_resource(
        "iam-no-wildcard-actions", "aws:kms/key:Key", key({"Service": "logs.amazonaws.com"})
    ) == ["allows every action of 'kms:*': name the actions it needs"]


def test_bucket_public_access_block_control() -> None:
    bucket = ("aws:s3/bucket:Bucket", "logs", {}, {})
    block = (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "pab",
        {"bucket": UNKNOWN_STRING_VALUE},
        {"bucket": ["logs"]},
    )
    assert run_stack("s3-bucket-has-public-access-block", _policy_resources([bucket, block])) == []
    assert run_stack("s3-bucket-has-public-access-block", _policy_resources([bucket])) == [
        (
            "the bucket has no public access block",
            URN.format(type="aws:s3/bucket:Bucket", name="logs"),
        )
    ]


def test_stack_controls_decide_unknowns_too() -> None:
    # An ALB whose type is unknown cannot be shown to be covered by WAF: the control says so.
    alb = (ALB, "alb", {"loadBalancerType": UNKNOWN_STRING_VALUE}, {})
    found = run_stack("elb-waf", _policy_resources([alb]))
    assert len(found) == 1 and found[0][0].startswith(
        "cannot be verified before the value is known:"
    )


def test_security_doc_controls_table_is_current() -> None:
    from policies import controls_table

    # One row per control of the pack, in its order.
    rows = controls_table().splitlines()[2:]
    assert [row.split(" | ", 1)[0] for row in rows] == [f"| `{c.name}`" for c in CONTROLS]
    security = (POLICY_DIR.parent / "docs" / "security.md").read_text()
    assert "<!-- controls -->\n" in security, "docs/security.md has no <!-- controls --> marker"
    shown = security.split("<!-- controls -->\n", 1)[1].split("<!-- /controls -->", 1)[0]
    assert shown == controls_table(), "docs/security.md's controls table is stale: run `make docs`"
