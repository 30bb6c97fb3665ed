"""Scan a stack's offline preview with Checkov's Terraform-plan rules.

Pulumi AWS is built on the Terraform AWS provider, so each resource's inputs are the arguments
of a Terraform resource. This script renders a stack with the offline preview (or reads a saved
document), converts it into the JSON that `terraform show -json` prints for a plan that creates
every resource, runs `checkov --framework terraform_plan` on it and prints what failed:

    .venv/bin/python scripts/checkov_scan.py --stack prod
    .venv/bin/python scripts/checkov_scan.py --document /tmp/prod.json --plan-out /tmp/plan.json

Checkov lives in its own virtualenv so that its pins cannot disturb the project's:

    python3 -m venv .venv-scan && .venv-scan/bin/pip install checkov

The conversion, resource by resource:
- the type token maps to the Terraform type through TERRAFORM_TYPES; a provider resource of a
  type missing there stops the scan (exit 2) rather than going unscanned;
- components (`custom: false`) and `awsx:ec2:Vpc` have no Terraform resource and are skipped,
  so checks about the VPC itself (flow logs attached to an aws_vpc, its default security group
  being attached to it) do not run;
- camelCase keys become snake_case; nested objects become one-element lists (blocks); lists
  stay lists; Pulumi's plural block names go back to Terraform's singular ones (BLOCK_NAMES);
- a value that is only a deploy-time reference, `${<name>.<attribute>}`, is unknown in the plan
  as Terraform writes it: absent from `values` (null inside a list), `true` in `after_unknown`,
  and a `references` expression under `configuration`, which is how Checkov connects
  resources (e.g. a load balancer to its WAF association). A reference inside a longer string
  (an ARN in an IAM document) is left as it is, so the document can still be checked; a
  reference to something that has no Terraform resource (the awsx VPC, `aws.accountId`) stays
  a plain string;
- `aws:wafv2/webAclRule:WebAclRule` (Terraform's aws_wafv2_web_acl_rule) is folded into the
  `rule` blocks of the web ACL it names, because Checkov reads a web ACL's rules only from
  those blocks; the deployed ACL holds them all the same.

Exit codes: 0 no failed check outside ALLOWED_FAILURES, 1 some, 2 the scan could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkov_allowed import ALLOWED_FAILURES, Allowed, Resource
from checkov_common import ScanError, checkov_report, find_checkov

PROJECT = Path(__file__).resolve().parent.parent
PROVIDER = "registry.terraform.io/hashicorp/aws"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

# Pulumi type token -> Terraform resource type (pulumi-aws 7.x).
TERRAFORM_TYPES: dict[str, str] = {
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "aws_cloudwatch_log_resource_policy",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ecs/cluster:Cluster": "aws_ecs_cluster",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": (
        "aws_ecs_cluster_capacity_providers"
    ),
    "aws:ecs/service:Service": "aws_ecs_service",
    "aws:ecs/taskDefinition:TaskDefinition": "aws_ecs_task_definition",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:dynamodb/table:Table": "aws_dynamodb_table",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "aws_lambda_event_source_mapping",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/listenerRule:ListenerRule": "aws_lb_listener_rule",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("aws_s3_bucket_public_access_block"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "aws_service_discovery_private_dns_namespace"
    ),
    "aws:servicediscovery/service:Service": "aws_service_discovery_service",
    "aws:xray/traceSegmentDestination:TraceSegmentDestination": (
        "aws_xray_trace_segment_destination"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "aws_vpc_security_group_egress_rule"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "aws_vpc_security_group_ingress_rule"
    ),
    "aws:wafv2/webAcl:WebAcl": "aws_wafv2_web_acl",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "aws_wafv2_web_acl_association",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "aws_wafv2_web_acl_logging_configuration"
    ),
    "aws:wafv2/webAclRule:WebAclRule": "aws_wafv2_web_acl_rule",
}

# Resources without a Terraform resource of their own, besides components.
NO_TERRAFORM_RESOURCE = frozenset({"awsx:ec2:Vpc"})

WAF_RULE = "aws_wafv2_web_acl_rule"

# Where Pulumi's name for a block differs from snake_case of Terraform's: Terraform type ->
# Pulumi path (camelCase keys joined by dots, list indices dropped) -> Terraform block name.
BLOCK_NAMES: dict[str, dict[str, str]] = {
    "aws_appautoscaling_policy": {
        "stepScalingPolicyConfiguration.stepAdjustments": "step_adjustment",
    },
    "aws_dynamodb_table": {
        "attributes": "attribute",
        "globalSecondaryIndexes": "global_secondary_index",
        "localSecondaryIndexes": "local_secondary_index",
    },
    "aws_ecr_repository": {"encryptionConfigurations": "encryption_configuration"},
    "aws_ecs_cluster": {"settings": "setting"},
    "aws_ecs_cluster_capacity_providers": {
        "defaultCapacityProviderStrategies": "default_capacity_provider_strategy",
    },
    "aws_ecs_service": {
        "capacityProviderStrategies": "capacity_provider_strategy",
        "loadBalancers": "load_balancer",
        "orderedPlacementStrategies": "ordered_placement_strategy",
    },
    "aws_ecs_task_definition": {
        "volumes": "volume",
        "inferenceAccelerators": "inference_accelerator",
    },
    "aws_lambda_event_source_mapping": {"filterCriteria.filters": "filter"},
    "aws_lb": {"subnetMappings": "subnet_mapping"},
    "aws_lb_listener": {
        "defaultActions": "default_action",
        "defaultActions.forward.targetGroups": "target_group",
    },
    "aws_lb_listener_rule": {
        "actions": "action",
        "actions.forward.targetGroups": "target_group",
        "conditions": "condition",
        "conditions.queryStrings": "query_string",
    },
    "aws_s3_bucket_lifecycle_configuration": {
        "rules": "rule",
        "rules.transitions": "transition",
        "rules.noncurrentVersionTransitions": "noncurrent_version_transition",
    },
    "aws_s3_bucket_server_side_encryption_configuration": {"rules": "rule"},
    "aws_wafv2_web_acl": {"rules": "rule", "customResponseBodies": "custom_response_body"},
}

# Lists of objects whose Terraform block name is plural too (checked against the provider).
PLURAL_BLOCKS: dict[str, frozenset[str]] = {
    "aws_service_discovery_service": frozenset({"dnsConfig.dnsRecords"}),
}

# Arguments that are maps in Terraform, not blocks (`variables`: a Lambda function's
# environment).
MAP_ARGUMENTS = frozenset({"tags", "tagsAll", "variables"})


REFERENCE = re.compile(r"\$\{([^}]+)\}")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass
class Target:
    """A preview resource that became a Terraform resource."""

    logical_name: str
    pulumi_type: str
    terraform_type: str
    address: str


@dataclass
class Conversion:
    resources: list[dict[str, Any]] = field(default_factory=list)
    """Planned-values resources: address, mode, type, name, provider_name, values."""
    unknowns: dict[str, dict[str, Any]] = field(default_factory=dict)
    expressions: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_address: dict[str, Target] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Converter:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.resources: list[Mapping[str, Any]] = list(document["resources"])
        self.names = sorted((str(r["name"]) for r in self.resources), key=len, reverse=True)
        self.targets: dict[str, Target] = {}
        self.conversion = Conversion()
        self._assign_addresses()

    def _assign_addresses(self) -> None:
        used: set[str] = set()
        unknown_types: list[str] = []
        for resource in self.resources:
            pulumi_type = str(resource["type"])
            if not resource["custom"] or pulumi_type in NO_TERRAFORM_RESOURCE:
                kind = "component" if not resource["custom"] else "no Terraform resource"
                self.conversion.skipped.append(f"{pulumi_type} {resource['name']} ({kind})")
                continue
            terraform_type = TERRAFORM_TYPES.get(pulumi_type)
            if terraform_type is None:
                unknown_types.append(pulumi_type)
                continue
            base = re.sub(r"[^A-Za-z0-9_]", "_", str(resource["name"]))
            if not re.match(r"[A-Za-z_]", base):
                base = f"r_{base}"
            name, suffix = base, 2
            while f"{terraform_type}.{name}" in used:
                name, suffix = f"{base}_{suffix}", suffix + 1
            address = f"{terraform_type}.{name}"
            used.add(address)
            self.targets[str(resource["name"])] = Target(
                str(resource["name"]), pulumi_type, terraform_type, address
            )
        if unknown_types:
            raise ScanError(
                "no Terraform type known for "
                + ", ".join(sorted(set(unknown_types)))
                + ": add it to TERRAFORM_TYPES in scripts/checkov_scan.py"
            )

    # --- references ----------------------------------------------------------------------

    def _resolve(self, inner: str) -> tuple[Target, str] | None:
        """`<logical name>.<attribute>` -> the Terraform resource and attribute, if any."""
        for name in self.names:
            if inner.startswith(name + ".") and name in self.targets:
                attribute = inner[len(name) + 1 :]
                head = re.split(r"[.\[]", attribute, maxsplit=1)[0]
                return self.targets[name], snake(head) + attribute[len(head) :]
        return None

    def _references(self, text: str) -> list[str]:
        found: list[str] = []
        for match in REFERENCE.finditer(text):
            resolved = self._resolve(match.group(1))
            if resolved is not None:
                target, attribute = resolved
                for ref in (f"{target.address}.{attribute}", target.address):
                    if ref not in found:
                        found.append(ref)
        return found

    def _only_reference(self, value: Any) -> bool:
        """A string that is one reference to a resource converted here: unknown at plan."""
        if not isinstance(value, str):
            return False
        match = REFERENCE.fullmatch(value)
        return match is not None and self._resolve(match.group(1)) is not None

    # --- values --------------------------------------------------------------------------

    def _key(self, terraform_type: str, path: str, key: str, value: Any) -> str:
        renamed = BLOCK_NAMES.get(terraform_type, {}).get(path)
        if renamed is not None:
            return renamed
        is_object_list = isinstance(value, list) and any(isinstance(v, dict) for v in value)
        plural_ok = path in PLURAL_BLOCKS.get(terraform_type, frozenset())
        if is_object_list and key.endswith("s") and not plural_ok:
            self.conversion.notes.append(
                f"{terraform_type}: block '{path}' kept as '{snake(key)}'; check the "
                "Terraform name and add it to BLOCK_NAMES or PLURAL_BLOCKS"
            )
        return snake(key)

    def convert_object(
        self, obj: Mapping[str, Any], terraform_type: str, path: str = ""
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Pulumi inputs -> (values, after_unknown, configuration expressions)."""
        values: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        expressions: dict[str, Any] = {}
        for key, value in obj.items():
            sub_path = f"{path}.{key}" if path else key
            tf_key = self._key(terraform_type, sub_path, key, value)
            if key in MAP_ARGUMENTS and isinstance(value, dict):
                values[tf_key] = dict(value)
                expressions[tf_key] = {"constant_value": dict(value)}
            elif isinstance(value, dict):
                block, block_unknown, block_expressions = self.convert_object(
                    value, terraform_type, sub_path
                )
                values[tf_key] = [block]
                if block_unknown:
                    unknown[tf_key] = [block_unknown]
                expressions[tf_key] = [block_expressions]
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                blocks = [self.convert_object(v, terraform_type, sub_path) for v in value]
                values[tf_key] = [b[0] for b in blocks]
                if any(b[1] for b in blocks):
                    unknown[tf_key] = [b[1] for b in blocks]
                expressions[tf_key] = [b[2] for b in blocks]
            elif isinstance(value, list):
                references = [r for v in value if isinstance(v, str) for r in self._references(v)]
                known = [None if self._only_reference(v) else v for v in value]
                values[tf_key] = known
                if any(self._only_reference(v) for v in value):
                    unknown[tf_key] = [self._only_reference(v) for v in value]
                expressions[tf_key] = (
                    {"references": references} if references else {"constant_value": value}
                )
            elif self._only_reference(value):
                unknown[tf_key] = True
                expressions[tf_key] = {"references": self._references(value)}
            else:
                values[tf_key] = value
                references = self._references(value) if isinstance(value, str) else []
                expressions[tf_key] = (
                    {"references": references} if references else {"constant_value": value}
                )
        return values, unknown, expressions

    def convert(self) -> Conversion:
        conversion = self.conversion
        waf_rules: dict[str, list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]] = {}
        for resource in self.resources:
            target = self.targets.get(str(resource["name"]))
            if target is None:
                continue
            values, unknown, expressions = self.convert_object(
                resource["inputs"], target.terraform_type
            )
            if target.terraform_type == WAF_RULE:
                acl = self._web_acl_of(resource)
                for part in (values, unknown, expressions):
                    part.pop("web_acl_arn", None)
                waf_rules.setdefault(acl.address, []).append((values, unknown, expressions))
                conversion.notes.append(
                    f"{target.address} ({target.logical_name}) folded into {acl.address} "
                    "as a rule block"
                )
                continue
            conversion.by_address[target.address] = target
            conversion.resources.append(
                {
                    "address": target.address,
                    "mode": "managed",
                    "type": target.terraform_type,
                    "name": target.address.split(".", 1)[1],
                    "provider_name": PROVIDER,
                    "schema_version": 0,
                    "values": values,
                    "sensitive_values": {},
                }
            )
            conversion.unknowns[target.address] = unknown
            conversion.expressions[target.address] = expressions
        for address, rules in waf_rules.items():
            planned = next(r for r in conversion.resources if r["address"] == address)
            ordered = sorted(rules, key=lambda rule: int(rule[0].get("priority", 0)))
            planned["values"].setdefault("rule", []).extend(r[0] for r in ordered)
            if any(r[1] for r in ordered):
                conversion.unknowns[address]["rule"] = [r[1] for r in ordered]
            conversion.expressions[address].setdefault("rule", []).extend(r[2] for r in ordered)
        return conversion

    def _web_acl_of(self, rule: Mapping[str, Any]) -> Target:
        arn = rule["inputs"].get("webAclArn")
        match = REFERENCE.fullmatch(arn) if isinstance(arn, str) else None
        resolved = self._resolve(match.group(1)) if match else None
        if resolved is None or resolved[0].terraform_type != "aws_wafv2_web_acl":
            raise ScanError(f"WAF rule {rule['name']}: webAclArn names no web ACL of this stack")
        return resolved[0]


def terraform_plan(document: Mapping[str, Any], conversion: Conversion) -> dict[str, Any]:
    """The `terraform show -json` document of a plan that creates every converted resource."""
    changes = [
        {
            "address": r["address"],
            "mode": "managed",
            "type": r["type"],
            "name": r["name"],
            "provider_name": PROVIDER,
            "change": {
                "actions": ["create"],
                "before": None,
                "after": r["values"],
                "after_unknown": conversion.unknowns[r["address"]],
                "before_sensitive": False,
                "after_sensitive": {},
            },
        }
        for r in conversion.resources
    ]
    configuration = [
        {
            "address": r["address"],
            "mode": "managed",
            "type": r["type"],
            "name": r["name"],
            "provider_config_key": "aws",
            "expressions": conversion.expressions[r["address"]],
            "schema_version": 0,
        }
        for r in conversion.resources
    ]
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {},
        "planned_values": {"root_module": {"resources": conversion.resources}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER}},
            "root_module": {"resources": configuration},
        },
        "description": f"converted from the offline preview of stack {document['stack']}",
    }


# --- running -----------------------------------------------------------------------------------


def load_document(stack: str | None, path: Path | None) -> dict[str, Any]:
    if path is not None:
        try:
            text = path.read_text()
        except OSError as error:
            raise ScanError(f"cannot read {path}: {error.strerror}") from error
    else:
        command = [sys.executable, "-m", "offline", "preview", "--stack", str(stack), "--json"]
        result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            message = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise ScanError(f"offline preview of {stack} failed: {' / '.join(message[-3:])}")
        text = result.stdout
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScanError(f"the preview document is not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("schemaVersion") not in (1, 2, 3):
        raise ScanError("not an offline preview document of schemaVersion 1, 2 or 3")
    if stack is not None and document.get("stack") != stack:
        raise ScanError(f"the document is of stack {document.get('stack')!r}, not {stack!r}")
    return document


def checkov_version(checkov: str) -> str:
    result = subprocess.run([checkov, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


@dataclass
class Finding:
    check_id: str
    title: str
    address: str


@dataclass
class Report:
    passed: int
    failed: list[Finding]
    skipped: int
    parsing_errors: int


def run_checkov(checkov: str, plan: Mapping[str, Any], keep: Path | None) -> Report:
    with tempfile.TemporaryDirectory(prefix="checkov-scan-") as directory:
        plan_path = Path(directory) / "plan.json"
        plan_path.write_text(json.dumps(plan, indent=2, sort_keys=True))
        if keep is not None:
            keep.write_text(plan_path.read_text())
        report = checkov_report(checkov, ["-f", str(plan_path)], "terraform_plan", Path(directory))
    summary = report["summary"]
    failed = [
        Finding(str(c["check_id"]), str(c["check_name"]), str(c["resource"]))
        for c in report["results"]["failed_checks"]
    ]
    return Report(
        passed=int(summary["passed"]),
        failed=sorted(failed, key=lambda f: (f.check_id, f.address)),
        skipped=int(summary["skipped"]),
        parsing_errors=int(summary["parsing_errors"]),
    )


def allowance(
    finding: Finding, targets: Mapping[str, Target], resources: Sequence[Resource]
) -> Allowed | None:
    target = targets.get(finding.address)
    if target is None:
        return None
    resource = next(r for r in resources if r["name"] == target.logical_name)
    for entry in ALLOWED_FAILURES:
        if (
            entry.check_id == finding.check_id
            and entry.terraform_type == target.terraform_type
            and entry.holds(resources, resource)
        ):
            return entry
    return None


def scan(args: argparse.Namespace) -> int:
    document = load_document(args.stack, args.document)
    checkov = find_checkov(args.checkov)
    conversion = Converter(document).convert()
    if not conversion.resources:
        raise ScanError("the document has no resource that converts to Terraform")
    plan = terraform_plan(document, conversion)
    report = run_checkov(checkov, plan, args.plan_out)
    if report.parsing_errors:
        raise ScanError(f"checkov could not parse the converted plan ({report.parsing_errors})")
    if report.passed + len(report.failed) == 0:
        raise ScanError("checkov ran no check on the converted plan")

    stack = document["stack"]
    print(f"stack {stack}: checkov {checkov_version(checkov)}, framework terraform_plan")
    print(
        f"  converted {len(conversion.resources)} resources; skipped {len(conversion.skipped)} "
        "without a Terraform resource:"
    )
    for skipped in conversion.skipped:
        print(f"    {skipped}")
    if any(r["type"] in NO_TERRAFORM_RESOURCE for r in document["resources"]):
        print(
            "  note: no aws_vpc, so the checks on a VPC (CKV2_AWS_11 flow logs, CKV2_AWS_12 its "
            "default security group, CKV_AWS_130 public IPs on subnets) did not run"
        )
    for note in conversion.notes:
        print(f"  note: {note}")
    blocking: list[Finding] = []
    allowed: list[tuple[Finding, Allowed]] = []
    for finding in report.failed:
        entry = allowance(finding, conversion.by_address, document["resources"])
        if entry is None:
            blocking.append(finding)
        else:
            allowed.append((finding, entry))
    print(
        f"  checks: {report.passed} passed, {len(report.failed)} failed "
        f"({len(allowed)} allowed), {report.skipped} skipped"
    )
    for finding in blocking:
        name = conversion.by_address.get(finding.address)
        logical = name.logical_name if name else "?"
        print(f"  FAILED  {finding.check_id}  {finding.address} ({logical})")
        print(f"          {finding.title}")
    for finding, entry in allowed:
        logical = conversion.by_address[finding.address].logical_name
        print(f"  allowed {finding.check_id}  {finding.address} ({logical})")
        print(f"          {finding.title}")
        print(f"          {'accepted' if entry.accepted else 'does not apply'}: {entry.reason}")
    return EXIT_FAILED if blocking else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="render this stack with the offline preview")
    source.add_argument("--document", type=Path, help="a document saved by `preview --json`")
    parser.add_argument("--checkov", help="the checkov executable (default: PATH, .venv-scan)")
    parser.add_argument("--plan-out", type=Path, help="also write the converted plan here")
    args = parser.parse_args(argv)
    try:
        return scan(args)
    except ScanError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
