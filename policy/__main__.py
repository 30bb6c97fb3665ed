"""The CrossGuard policy pack: `pulumi preview --policy-pack policy`."""

from policies import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="microservices-security",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
