"""The security baseline as CrossGuard policies, one per control.

Each control names the AWS Security Hub / Checkov id it implements, the environments it is
mandatory in, and what it does with a value that is unknown during `pulumi preview` (an ARN
or a document built from one): `deny` reports it, because the control cannot be shown to
hold; `allow` lets it pass at preview, because the value is known when `pulumi up` runs the
same policy before creating the resource.

One module per AWS service of the resources checked, as awsguard keeps one per area:
ecs.py, elb.py, dynamodb.py, ec2.py, iam.py, cloudwatch.py, s3.py, messaging.py (SNS and SQS),
each with its CONTROLS;
control.py holds the Control, the shared readers and the adapters to CrossGuard. The pack is
their union, in a fixed order (the generated controls table's), not in the order of imports.

This package depends on pulumi-policy alone, so the pack runs in its own virtualenv.
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from policies import cloudwatch, dynamodb, ec2, ecs, elb, iam, messaging, s3
from policies.control import Control, resource_policy, stack_policy
from policies.ecs import TMP_PREPARATION_COMMAND, TMP_PREPARATION_IMAGE

# The table's order: by area, but for the load balancers' WAF and TLS controls, which have
# always come after the DynamoDB one.
_ELB_FIRST = 5
CONTROLS: tuple[Control, ...] = (
    *ecs.CONTROLS,
    *elb.CONTROLS[:_ELB_FIRST],
    *dynamodb.CONTROLS,
    *elb.CONTROLS[_ELB_FIRST:],
    *ec2.CONTROLS,
    *iam.CONTROLS,
    *cloudwatch.CONTROLS,
    *s3.CONTROLS,
    *messaging.CONTROLS,
)
_names = [control.name for control in CONTROLS]
if len(set(_names)) != len(_names):
    raise ValueError(
        f"controls with the same name: {sorted(n for n in _names if _names.count(n) > 1)}"
    )

__all__ = [
    "CONTROLS",
    "TMP_PREPARATION_COMMAND",
    "TMP_PREPARATION_IMAGE",
    "Control",
    "controls_table",
    "policies",
]


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every control as a policy, mandatory by default; `config/development.json` makes the
    production-only controls advisory (a test keeps it in step with CONTROLS)."""
    return [
        stack_policy(control) if control.check_stack is not None else resource_policy(control)
        for control in CONTROLS
    ]


def controls_table() -> str:
    """The README's table of controls, generated so that it cannot drift from the pack."""
    rows = [
        "| control | id | how it is met | dev | prod |",
        "|---|---|---|---|---|",
    ]
    for control in CONTROLS:
        dev = "mandatory" if control.scope == "all" else "advisory"
        rows.append(f"| `{control.name}` | {control.ids} | {control.how} | {dev} | mandatory |")
    return "\n".join(rows) + "\n"
