"""Property: any config, however mangled, either renders or fails with a ConfigError whose
every problem names a key. No other exception, ever.

Configs are drawn from the schema (mostly valid values, some at and past the edges) and then
mutated: wrong types, out-of-range numbers, unknown keys, removed or replaced blocks.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config import (
    FARGATE_MEMORY_BY_CPU,
    LOG_RETENTION_DAYS,
    ConfigError,
    ConfigIssue,
    load_settings,
)
from config.schema import TOP_LEVEL_KEYS
from offline.render.harness import render
from offline.render.stackfile import to_cli_config
from services import CATALOG

# Hundreds of generated configs, each rendered: make test-all.
pytestmark = pytest.mark.slow

EXAMPLES = 500

# Anything a YAML file or `pulumi config set --path` can hold.
any_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

cpus = st.sampled_from([*FARGATE_MEMORY_BY_CPU, 128, 300, 0])
memories = st.sampled_from(
    sorted({m for ms in FARGATE_MEMORY_BY_CPU.values() for m in ms[:2]} | {300, 3000, 0})
)
counts = st.integers(-1, 12)

autoscaling = st.fixed_dictionaries(
    {"minCount": counts, "maxCount": counts},
    optional={
        "cpuTarget": st.integers(0, 101),
        "memoryTarget": st.integers(0, 101),
        "requestsPerTarget": st.integers(0, 5000),
    },
)
variable_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
service = st.fixed_dictionaries(
    {},
    optional={
        "cpu": cpus,
        "memory": memories,
        "desiredCount": counts,
        "autoscaling": autoscaling,
        "stopTimeout": st.integers(-1, 200),
        "environment": st.dictionaries(
            variable_names, st.text(max_size=8) | st.integers(), max_size=3
        ),
        "secrets": st.dictionaries(
            variable_names,
            st.sampled_from(
                [
                    "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf",
                    "arn:aws:ssm:us-east-1:111122223333:parameter/app/key",
                    "plain-value",
                ]
            ),
            max_size=2,
        ),
        "image": st.sampled_from(["ghcr.io/acme/app:1.0", "bad image", "nginx:1.29"]),
        "user": st.sampled_from(["10001", "0", "root", 1000]),
    },
)
capacity = st.fixed_dictionaries(
    {"provider": st.sampled_from(["FARGATE", "FARGATE_SPOT", "EC2"])},
    optional={"base": st.integers(-1, 3), "weight": st.integers(-1, 4)},
)
blocks = {
    "environment": st.sampled_from(["development", "production", "staging"]),
    "network": st.fixed_dictionaries(
        {},
        optional={
            "cidrBlock": st.sampled_from(
                ["10.20.0.0/16", "10.1.0.0/17", "192.168.0.0/20", "8.8.0.0/16", "10.0.0.1/16", "x"]
            ),
            "availabilityZones": st.integers(0, 7),
            "natGateways": st.sampled_from(["single", "perAz", "none"]),
        },
    ),
    "cluster": st.fixed_dictionaries(
        {},
        optional={
            "containerInsights": st.sampled_from(["enabled", "enhanced", "disabled", "on"]),
            "capacityProviders": st.lists(capacity, max_size=3),
        },
    ),
    "discovery": st.fixed_dictionaries(
        {},
        optional={
            "namespace": st.sampled_from(["dev.internal", "a.b.c", "Bad_Name", "-x.internal"]),
            "recordTtl": st.integers(-1, 100),
        },
    ),
    "loadBalancer": st.fixed_dictionaries(
        {},
        optional={
            "certificateArn": st.sampled_from(
                [
                    "arn:aws:acm:us-east-1:111122223333:certificate/abc-123",
                    "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123",
                    "not-an-arn",
                ]
            ),
            "ingressCidrs": st.lists(
                st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "1.2.3.4"]), max_size=3
            ),
            "deletionProtection": st.booleans(),
            "accessLogs": st.booleans(),
        },
    ),
    "deployment": st.fixed_dictionaries(
        {},
        optional={
            "minimumHealthyPercent": st.integers(-1, 101),
            "maximumPercent": st.integers(99, 201),
            "deregistrationDelay": st.integers(-1, 3601),
            "healthCheckGracePeriod": st.integers(-1, 120),
            "healthCheckInterval": st.integers(4, 301),
            "healthCheckTimeout": st.integers(1, 121),
            "healthyThreshold": st.integers(1, 11),
        },
    ),
    "logs": st.fixed_dictionaries(
        {}, optional={"retentionDays": st.sampled_from([*LOG_RETENTION_DAYS[:4], 0, 10, 400])}
    ),
    "services": st.dictionaries(
        st.sampled_from([*CATALOG, "unknown-service"]), service, max_size=3
    ),
}
configs = st.fixed_dictionaries({}, optional=blocks)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A drawn config with up to three mutations at random places."""
    config: dict[str, Any] = draw(configs)
    for _ in range(draw(st.integers(0, 3))):
        target: Any = config
        path: list[Any] = []
        # Walk down a random existing path, then change what is there.
        while isinstance(target, dict) and target and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(target, key=str)))
            path.append(key)
            if not isinstance(target[key], dict):
                break
            target = target[key]
        if not isinstance(target, dict):
            continue
        action = draw(st.sampled_from(["replace", "unknown-key", "delete"]))
        if action == "replace" and target:
            target[draw(st.sampled_from(sorted(target, key=str)))] = draw(any_value)
        elif action == "unknown-key":
            target[draw(st.text(min_size=1, max_size=10))] = draw(any_value)
        elif action == "delete" and target:
            del target[draw(st.sampled_from(sorted(target, key=str)))]
    return config


def _names_a_key(issue: ConfigIssue) -> bool:
    """The problem is at a key of the schema, or is that key itself being unknown."""
    root = issue.path.split(".", 1)[0].split("[", 1)[0]
    known = root in TOP_LEVEL_KEYS or issue.path in ("aws:region", "(stack name)")
    return bool(issue.path) and (known or issue.message.startswith("unknown key"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_any_config_renders_or_names_its_problems(raw: dict[str, Any]) -> None:
    try:
        load_settings(raw, stack="dev", region="us-east-1")
    except ConfigError as error:
        event("rejected")
        assert error.issues
        for issue in error.issues:
            assert _names_a_key(issue), issue
            assert "; fix: " in str(issue) and "(allowed: " in issue.message, issue
        return
    event("rendered")
    # Valid: the whole program must then register its resources without error.
    document = {"aws:region": "us-east-1", **{f"microservices:{k}": v for k, v in raw.items()}}
    rendering = render("dev", config=to_cli_config("microservices", "dev", document))
    assert any(r.type == "aws:ecs/service:Service" for r in rendering.resources)
