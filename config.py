"""Stack config -> typed, validated settings.

Everything the program reads from `Pulumi.<stack>.yaml` goes through this module. It knows
nothing of resources: it checks the config against the schema and AWS's limits, merges each
service's config over its spec from `services/`, and returns plain frozen data. Every problem
in a config is reported at once, each naming its key path, the bad value, what is allowed and
the `pulumi config set --path` command that fixes it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

import naming
from services import CATALOG, ServiceSpec

PROJECT = "microservices"

# --- AWS facts the validator enforces ------------------------------------------------------

# Fargate task sizes: cpu units -> allowed memory (MiB).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: tuple(range(1024, 4096 + 1, 1024)),
        1024: tuple(range(2048, 8192 + 1, 1024)),
        2048: tuple(range(4096, 16384 + 1, 1024)),
        4096: tuple(range(8192, 30720 + 1, 1024)),
        8192: tuple(range(16384, 61440 + 1, 4096)),
        16384: tuple(range(32768, 122880 + 1, 8192)),
    }
)

# CloudWatch Logs PutRetentionPolicy accepts only these values (days).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

LISTENER_PRIORITY_RANGE = (1, 50000)

# Subnet sizes of a new VPC, and the aligned block each AZ needs to hold both.
PRIVATE_SUBNET_PREFIX = 20
PUBLIC_SUBNET_PREFIX = 24
AZ_BLOCK_PREFIX = 19

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Secrets Manager secret or SSM parameter ARNs, the two sources ECS `secrets` accepts.
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+"
    r"|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$"
)
_ACM_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/(?P<id>[A-Za-z0-9-]+)$"
)
# AWS's documentation example account; the committed prod stack uses it as a placeholder.
EXAMPLE_ACCOUNT_ID = "123456789012"


# --- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ConfigIssue:
    """One problem in a stack config: where, what, and the command that fixes it."""

    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}; fix: {self.fix}"


class ConfigError(Exception):
    """The stack config is invalid. Raised before any resource is registered."""

    def __init__(self, stack: str, issues: Sequence[ConfigIssue]) -> None:
        self.stack = stack
        self.issues = tuple(issues)
        count = len(self.issues)
        header = f"invalid config for stack '{stack}' ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  {issue}" for issue in self.issues)]))


def _show(value: Any) -> str:
    """A config value as the user wrote it: numbers bare, strings and structures as JSON."""
    if isinstance(value, bool | int | float):
        return _scalar_to_str(value)
    return json.dumps(value, sort_keys=True)


def set_command(path: str, value: Any) -> str:
    """The `pulumi config set --path` command that stores `value` at `path` with its type."""
    shown = _show(value) if not isinstance(value, str) else value
    return f"pulumi config set --path '{path}' {shlex.quote(shown)}"


def rm_command(path: str) -> str:
    return f"pulumi config rm --path '{path}'"


# --- the schema ------------------------------------------------------------------------------


def _scalar_to_str(value: Any) -> Any:
    # `pulumi config set --path` stores numbers and booleans typed; environment values are
    # strings in the end, so `PORT: 8080` means "8080".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# Text that `pulumi config set --path` may have stored as a number or boolean.
ScalarText = Annotated[str, BeforeValidator(_scalar_to_str)]


class _Block(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )


class NetworkConfig(_Block):
    cidr_block: str = "10.20.0.0/16"
    availability_zones: int = Field(default=2, ge=2, le=6)
    nat_gateways: Literal["single", "perAz"] = "single"
    vpc_id: str | None = None
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()

    @property
    def uses_existing_vpc(self) -> bool:
        return self.vpc_id is not None


class CapacityProviderConfig(_Block):
    provider: Literal["FARGATE", "FARGATE_SPOT"]
    base: int = Field(default=0, ge=0, le=100000)
    weight: int = Field(default=0, ge=0, le=1000)


class ClusterConfig(_Block):
    container_insights: Literal["enabled", "enhanced", "disabled"] = "enabled"
    capacity_providers: tuple[CapacityProviderConfig, ...] = (
        CapacityProviderConfig(provider="FARGATE", base=1, weight=1),
    )


class DiscoveryConfig(_Block):
    namespace: str | None = None
    """Defaults to `<stack>.internal`."""
    record_ttl: int = Field(default=10, ge=0, le=2147483647)


class LoadBalancerConfig(_Block):
    certificate_arn: str | None = None
    domain_name: str | None = None
    """The name clients use (pointed at the ALB); the certificate covers it."""
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    deletion_protection: bool = False
    access_logs: bool = False

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None


class DeploymentConfig(_Block):
    minimum_healthy_percent: int = Field(default=50, ge=0, le=100)
    maximum_percent: int = Field(default=200, ge=100, le=200)
    deregistration_delay: int = Field(default=5, ge=0, le=3600)
    health_check_grace_period: int = Field(default=30, ge=0, le=2147483647)
    wait_for_steady_state: bool = True
    """`pulumi up` waits until each changed service is stable, so a failed rollout fails it."""


class LogsConfig(_Block):
    retention_days: int = 7


class AutoscalingConfig(_Block):
    min_count: int = Field(ge=0)
    max_count: int = Field(ge=1)
    cpu_target: int = Field(default=60, ge=1, le=100)
    memory_target: int | None = Field(default=None, ge=1, le=100)
    requests_per_target: int | None = Field(default=None, ge=1)


class ServiceConfig(_Block):
    image: str | None = None
    user: ScalarText | None = None
    """The uid the image runs as; required with an image other than the spec's."""
    image_prepares_tmp: bool | None = None
    """The image declares `VOLUME /tmp` owned by its user (no init container needed)."""
    cpu: int = 256
    memory: int = 512
    desired_count: int = Field(default=1, ge=0)
    autoscaling: AutoscalingConfig | None = None
    environment: dict[str, ScalarText] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)


Environment = Literal["development", "production"]

# Top-level keys under the `microservices:` namespace and the model of each.
BLOCKS: Mapping[str, type[_Block]] = MappingProxyType(
    {
        "network": NetworkConfig,
        "cluster": ClusterConfig,
        "discovery": DiscoveryConfig,
        "loadBalancer": LoadBalancerConfig,
        "deployment": DeploymentConfig,
        "logs": LogsConfig,
    }
)
TOP_LEVEL_KEYS: tuple[str, ...] = ("environment", *BLOCKS, "services")


# --- resolved settings -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """One microservice: its spec from `services/` merged with its stack config."""

    spec: ServiceSpec
    image: str
    user: str | None
    """The non-root uid the container runs as; None for the image's own user."""
    prepare_tmp: bool
    """Open up the /tmp volume with an init container before the application starts."""
    cpu: int
    memory: int
    desired_count: int
    autoscaling: AutoscalingConfig | None
    environment: Mapping[str, str]
    """The spec's variables, the callee URLs, then the stack's variables."""
    secrets: Mapping[str, str]
    callers: tuple[str, ...]
    """Names of the services that call this one."""
    dns_name: str
    """Fully qualified: `<spec.discovery_name>.<namespace>`."""
    url: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def routed(self) -> bool:
        return bool(self.spec.routes)


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    project: str
    stack: str
    region: str
    environment: Environment
    network: NetworkConfig
    cluster: ClusterConfig
    namespace: str
    record_ttl: int
    load_balancer: LoadBalancerConfig
    deployment: DeploymentConfig
    logs: LogsConfig
    services: tuple[ServiceSettings, ...]
    """Ordered so that every service comes after all of its callers."""
    warnings: tuple[str, ...] = ()
    """Valid but surprising values, worth a look before a deploy."""

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def service(self, name: str) -> ServiceSettings:
        return next(s for s in self.services if s.name == name)


# --- pydantic errors -> issues ---------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """The model or container type inside Optional[...] / Annotated[...]."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        return _unwrap(inner[0]) if len(inner) == 1 else annotation
    return annotation


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that holds the key at `loc` (whose last element is the key)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = _unwrap(fields[part].annotation)
        elif get_origin(current) in (tuple, list):
            current = _unwrap(get_args(current)[0])
        elif get_origin(current) is dict:
            current = _unwrap(get_args(current)[1])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _default_at(model: type[BaseModel] | None, key: str | int) -> Any:
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if (field.alias or name) == key and not field.is_required():
            default = field.get_default(call_default_factory=True)
            return default if isinstance(default, str | int | float | bool) else None
    return None


def _join(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unknown_key_issue(
    path: str, key: str, allowed: Iterable[str], noun: str = "key"
) -> ConfigIssue:
    allowed = sorted(allowed)
    hint = difflib.get_close_matches(key, allowed, n=1)
    did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
    return ConfigIssue(
        path=path,
        message=f"unknown {noun} (allowed: {', '.join(allowed)}{did_you_mean})",
        fix=rm_command(path),
    )


def _translate(
    error: Mapping[str, Any], prefix: Sequence[str], model: type[BaseModel]
) -> ConfigIssue:
    loc = tuple(error["loc"])
    path = _join((*prefix, *loc))
    value = error.get("input")
    kind = error["type"]
    holder = _model_at(model, loc) if loc else None
    default = _default_at(holder, loc[-1]) if loc else None
    fix_value = default
    if kind == "extra_forbidden" and holder is not None:
        return _unknown_key_issue(path, str(loc[-1]), _allowed_keys(holder))
    if kind == "missing":
        return ConfigIssue(
            path=path,
            message=f"is required (allowed: {_field_kind(holder, loc[-1])})",
            fix=set_command(path, "<value>"),
        )
    ctx = error.get("ctx", {})
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        message = f"{_show(value)} is not allowed (allowed: {', '.join(allowed)})"
        fix_value = default if default is not None else (allowed[0] if allowed else None)
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(holder, loc[-1])
        message = f"{_show(value)} is out of range (allowed: {_range_text(low, high)})"
        if fix_value is None:
            fix_value = low if kind.startswith("greater") else high
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        low, high = _bounds(holder, loc[-1])
        bounds = f" {_range_text(low, high)}" if low is not None or high is not None else ""
        message = f"{_show(value)} is not a whole number (allowed: a whole number{bounds})"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"{_show(value)} is not true or false"
        fix_value = default if default is not None else "false"
    elif kind in ("string_type", "str_type"):
        message = f"{_show(value)} is not a string"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"{_show(value)} is not a map of keys to values"
        return ConfigIssue(
            path=path, message=message, fix=rm_command(path) + " (then set its keys)"
        )
    elif kind in ("tuple_type", "list_type"):
        message = f"{_show(value)} is not a list"
        return ConfigIssue(
            path=path, message=message, fix=rm_command(path) + " (then set its items)"
        )
    else:
        message = f"{_show(value)} is not valid ({error['msg']})"
    fix = set_command(path, fix_value) if fix_value is not None else set_command(path, "<value>")
    return ConfigIssue(path=path, message=message, fix=fix)


def _field_kind(model: type[BaseModel] | None, key: str | int) -> str:
    """A short description of what a field takes, for `is required` messages."""
    if model is None:
        return "a value"
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            low, high = _bounds(model, key)
            if field.annotation is int:
                bounds = f" {_range_text(low, high)}" if low is not None or high is not None else ""
                return f"a whole number{bounds}"
            if field.annotation is bool:
                return "true or false"
            return "a value"
    return "a value"


def _bounds(model: type[BaseModel] | None, key: str | int) -> tuple[int | None, int | None]:
    if model is None:
        return None, None
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            low = high = None
            for meta in field.metadata:
                low = getattr(meta, "ge", low)
                high = getattr(meta, "le", high)
            return low, high
    return None, None


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"


def _parse(model: type[_Block], raw: Any, prefix: Sequence[str], issues: list[ConfigIssue]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        issues.extend(_translate(e, prefix, model) for e in error.errors())
        return None


# --- rules over parsed blocks ----------------------------------------------------------------


def _nearest_at_least(value: int, allowed: Sequence[int]) -> int:
    return next((a for a in allowed if a >= value), allowed[-1])


def _check_service(key: str, svc: ServiceConfig, spec: ServiceSpec) -> list[ConfigIssue]:
    base = f"services.{key}"
    issues: list[ConfigIssue] = []
    if svc.image not in (None, spec.image) and svc.user is None:
        issues.append(
            ConfigIssue(
                path=f"{base}.user",
                message=f"is required with an image other than the spec's ({svc.image}): the "
                "spec's user belongs to its own image (allowed: the numeric uid the image runs "
                "as, non-root)",
                fix=set_command(f"{base}.user", "10001"),
            )
        )
    if svc.user in ("0", "root"):
        issues.append(
            ConfigIssue(
                path=f"{base}.user",
                message=f"{_show(svc.user)} runs the container as root (allowed: a non-root uid)",
                fix=set_command(f"{base}.user", "10001"),
            )
        )
    if svc.autoscaling and svc.autoscaling.requests_per_target is not None and not spec.routes:
        issues.append(
            ConfigIssue(
                path=f"{base}.autoscaling.requestsPerTarget",
                message=f"{svc.autoscaling.requests_per_target} needs a service behind the load "
                f"balancer, and {key} has no routes (allowed: cpuTarget, memoryTarget)",
                fix=rm_command(f"{base}.autoscaling.requestsPerTarget"),
            )
        )
    cpus = tuple(FARGATE_MEMORY_BY_CPU)
    if svc.cpu not in FARGATE_MEMORY_BY_CPU:
        issues.append(
            ConfigIssue(
                path=f"{base}.cpu",
                message=f"{svc.cpu} is not a Fargate cpu size "
                f"(allowed: {', '.join(map(str, cpus))})",
                fix=set_command(f"{base}.cpu", _nearest_at_least(svc.cpu, cpus)),
            )
        )
    elif svc.memory not in FARGATE_MEMORY_BY_CPU[svc.cpu]:
        allowed = FARGATE_MEMORY_BY_CPU[svc.cpu]
        issues.append(
            ConfigIssue(
                path=f"{base}.memory",
                message=(
                    f"{svc.memory} is not valid with cpu {svc.cpu} (allowed: {_list_text(allowed)})"
                ),
                fix=set_command(f"{base}.memory", _nearest_at_least(svc.memory, allowed)),
            )
        )
    band = svc.autoscaling
    if band is not None:
        if band.min_count > band.max_count:
            issues.append(
                ConfigIssue(
                    path=f"{base}.autoscaling.minCount",
                    message=(
                        f"{band.min_count} is greater than maxCount {band.max_count} "
                        "(allowed: minCount <= desiredCount <= maxCount)"
                    ),
                    fix=set_command(f"{base}.autoscaling.minCount", band.max_count),
                )
            )
        elif not band.min_count <= svc.desired_count <= band.max_count:
            clamped = min(max(svc.desired_count, band.min_count), band.max_count)
            issues.append(
                ConfigIssue(
                    path=f"{base}.desiredCount",
                    message=(
                        f"{svc.desired_count} is outside the autoscaling band "
                        f"{band.min_count}..{band.max_count} "
                        "(allowed: minCount <= desiredCount <= maxCount)"
                    ),
                    fix=set_command(f"{base}.desiredCount", clamped),
                )
            )
    for name in svc.environment:
        if not _ENV_NAME.match(name):
            issues.append(_bad_env_name(f"{base}.environment.{name}"))
    for name, arn in svc.secrets.items():
        path = f"{base}.secrets.{name}"
        if not _ENV_NAME.match(name):
            issues.append(_bad_env_name(path))
        if not _SECRET_ARN.match(arn):
            issues.append(
                ConfigIssue(
                    path=path,
                    message=(
                        f"{_show(arn)} is not a Secrets Manager secret or SSM parameter ARN "
                        "(allowed: arn:aws:secretsmanager:<region>:<account>:secret:<name> or "
                        "arn:aws:ssm:<region>:<account>:parameter/<name>)"
                    ),
                    fix=set_command(
                        path, "arn:aws:secretsmanager:<region>:<account>:secret:<name>"
                    ),
                )
            )
        if name in svc.environment:
            issues.append(
                ConfigIssue(
                    path=path,
                    message=f"'{name}' is also set in environment (allowed: one of the two)",
                    fix=rm_command(f"{base}.environment.{name}"),
                )
            )
    return issues


def _bad_env_name(path: str) -> ConfigIssue:
    return ConfigIssue(
        path=path,
        message="is not a valid environment variable name (allowed: letters, digits and _, "
        "not starting with a digit)",
        fix=rm_command(path),
    )


def _list_text(values: Sequence[int]) -> str:
    if len(values) <= 4:
        return ", ".join(map(str, values))
    step = values[1] - values[0]
    return f"{values[0]}..{values[-1]} in steps of {step}"


def _check_cluster(cluster: ClusterConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    strategy = cluster.capacity_providers
    path = "cluster.capacityProviders"
    if not strategy:
        issues.append(
            ConfigIssue(
                path=path,
                message="is empty (allowed: at least one of FARGATE, FARGATE_SPOT)",
                fix=set_command(f"{path}[0].provider", "FARGATE"),
            )
        )
        return issues
    names = [p.provider for p in strategy]
    for index, name in enumerate(names):
        if name in names[:index]:
            issues.append(
                ConfigIssue(
                    path=f"{path}[{index}].provider",
                    message=f"{_show(name)} is listed twice (allowed: each provider once)",
                    fix=rm_command(f"{path}[{index}]"),
                )
            )
    with_base = [i for i, p in enumerate(strategy) if p.base > 0]
    for index in with_base[1:]:
        issues.append(
            ConfigIssue(
                path=f"{path}[{index}].base",
                message=(
                    f"{strategy[index].base} is a second base "
                    "(allowed: only one capacity provider in a strategy may set base)"
                ),
                fix=set_command(f"{path}[{index}].base", 0),
            )
        )
    if all(p.weight == 0 for p in strategy):
        issues.append(
            ConfigIssue(
                path=f"{path}[0].weight",
                message="0 leaves every weight at 0 (allowed: at least one weight > 0)",
                fix=set_command(f"{path}[0].weight", 1),
            )
        )
    return issues


def _check_network(network: NetworkConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    try:
        cidr = ipaddress.IPv4Network(network.cidr_block)
    except ValueError:
        issues.append(
            ConfigIssue(
                path="network.cidrBlock",
                message=f"{_show(network.cidr_block)} is not an IPv4 CIDR block "
                "(allowed: e.g. 10.20.0.0/16)",
                fix=set_command("network.cidrBlock", "10.20.0.0/16"),
            )
        )
    else:
        # Each AZ gets an aligned block for a private /20 and a public /24: a /19.
        largest = AZ_BLOCK_PREFIX - math.ceil(math.log2(network.availability_zones))
        if not network.uses_existing_vpc and not 16 <= cidr.prefixlen <= largest:
            issues.append(
                ConfigIssue(
                    path="network.cidrBlock",
                    message=f"{_show(network.cidr_block)} has a /{cidr.prefixlen} mask, which "
                    f"cannot hold {network.availability_zones} availability zones of a private "
                    f"/{PRIVATE_SUBNET_PREFIX} and a public /{PUBLIC_SUBNET_PREFIX} subnet each "
                    f"(allowed: /16../{largest})",
                    fix=set_command(
                        "network.cidrBlock",
                        str(cidr.supernet(new_prefix=16))
                        if cidr.prefixlen > 16
                        else "10.20.0.0/16",
                    ),
                )
            )
    if network.uses_existing_vpc:
        for key in sorted(
            network.model_fields_set & {"cidr_block", "availability_zones", "nat_gateways"}
        ):
            alias = to_camel(key)
            issues.append(
                ConfigIssue(
                    path=f"network.{alias}",
                    message="has no effect with an existing VPC (allowed: vpcId, "
                    "publicSubnetIds and privateSubnetIds alone)",
                    fix=rm_command(f"network.{alias}"),
                )
            )
        for key, ids in (
            ("publicSubnetIds", network.public_subnet_ids),
            ("privateSubnetIds", network.private_subnet_ids),
        ):
            if len(ids) < 2:
                issues.append(
                    ConfigIssue(
                        path=f"network.{key}",
                        message=f"{_show(list(ids))} has {len(ids)} subnet(s) "
                        "(allowed: at least 2, in different availability zones, "
                        "as an ALB requires)",
                        fix=set_command(f"network.{key}[{len(ids)}]", "subnet-<id>"),
                    )
                )
    elif network.public_subnet_ids or network.private_subnet_ids:
        issues.append(
            ConfigIssue(
                path="network.vpcId",
                message="is not set but subnet ids are (allowed: vpcId with both subnet "
                "lists, or none of the three)",
                fix=set_command("network.vpcId", "vpc-<id>"),
            )
        )
    return issues


DNS_NAME_RULE = (
    "dot-separated labels of 1..63 characters of a-z, 0-9 and '-', not starting or ending "
    "with '-', 253 characters in all"
)


def is_dns_name(name: str) -> bool:
    return len(name) <= 253 and all(_DNS_LABEL.match(label) for label in name.split("."))


def _check_stack_wide(
    *,
    stack: str,
    load_balancer: LoadBalancerConfig,
    logs: LogsConfig,
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    if logs.retention_days not in LOG_RETENTION_DAYS:
        allowed = LOG_RETENTION_DAYS
        issues.append(
            ConfigIssue(
                path="logs.retentionDays",
                message=(
                    f"{logs.retention_days} is not a CloudWatch Logs retention period "
                    f"(allowed: {', '.join(map(str, allowed))})"
                ),
                fix=set_command(
                    "logs.retentionDays", _nearest_at_least(logs.retention_days, allowed)
                ),
            )
        )
    domain = load_balancer.domain_name
    if domain is not None and (not is_dns_name(domain) or "." not in domain):
        issues.append(
            ConfigIssue(
                path="loadBalancer.domainName",
                message=f"{_show(domain)} is not a domain name (allowed: {DNS_NAME_RULE})",
                fix=set_command("loadBalancer.domainName", "api.<your-domain>"),
            )
        )
    for index, cidr in enumerate(load_balancer.ingress_cidrs):
        if cidr in load_balancer.ingress_cidrs[:index]:
            issues.append(
                ConfigIssue(
                    path=f"loadBalancer.ingressCidrs[{index}]",
                    message=f"{_show(cidr)} is listed twice (allowed: each CIDR once)",
                    fix=rm_command(f"loadBalancer.ingressCidrs[{index}]"),
                )
            )
            continue
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            issues.append(
                ConfigIssue(
                    path=f"loadBalancer.ingressCidrs[{index}]",
                    message=f"{_show(cidr)} is not an IPv4 CIDR block (allowed: e.g. 0.0.0.0/0)",
                    fix=set_command(f"loadBalancer.ingressCidrs[{index}]", "0.0.0.0/0"),
                )
            )
    alb_name = naming.load_balancer(naming.load_balancer_component(naming.platform(stack)))
    if not naming.fits_lb_name_limit(alb_name) or not re.match(r"^[a-z0-9-]+$", stack):
        issues.append(
            ConfigIssue(
                path="(stack name)",
                message=f"{_show(stack)} makes the ALB name '{alb_name}' too long or invalid "
                f"once Pulumi adds its {naming.AUTONAME_SUFFIX_LENGTH}-character suffix "
                f"(allowed: lowercase letters, digits and hyphens; ALB names are at most "
                f"{naming.AWS_LB_NAME_MAX} characters)",
                fix="pulumi stack rename <shorter-lowercase-name>",
            )
        )
    return issues


CERTIFICATE_FIX = "arn:aws:acm:<region>:<account>:certificate/<id>"


def _check_certificate(
    arn: str | None, *, environment: str, region: str | None, deploying: bool
) -> tuple[list[ConfigIssue], list[str]]:
    """Problems with the listener certificate, and warnings for a preview."""
    path = "loadBalancer.certificateArn"
    if arn is None:
        if environment != "production":
            return [], []
        return [
            ConfigIssue(
                path=path,
                message="is required in production: the ALB serves HTTPS only "
                "(allowed: an ACM certificate ARN in the stack's region)",
                fix=set_command(path, CERTIFICATE_FIX),
            )
        ], []
    match = _ACM_ARN.match(arn)
    if match is None:
        return [
            ConfigIssue(
                path=path,
                message=f"{_show(arn)} is not an ACM certificate ARN "
                "(allowed: arn:aws:acm:<region>:<account>:certificate/<id>)",
                fix=set_command(path, CERTIFICATE_FIX),
            )
        ], []
    if region and match["region"] != region:
        return [
            ConfigIssue(
                path=path,
                message=f"{_show(arn)} is in {match['region']}, but an ALB can only use a "
                f"certificate from its own region (allowed: a certificate in {region})",
                fix=set_command(path, f"arn:aws:acm:{region}:<account>:certificate/<id>"),
            )
        ], []
    if match["account"] == EXAMPLE_ACCOUNT_ID or set(match["id"]) <= {"0", "-"}:
        placeholder = ConfigIssue(
            path=path,
            message=f"{_show(arn)} is the placeholder from the stack file; creating the HTTPS "
            "listener would fail (allowed: the ARN of your ACM certificate)",
            fix=set_command(path, f"arn:aws:acm:{match['region']}:<account>:certificate/<id>"),
        )
        # A preview may show the stack; a deploy must not start with it.
        return ([placeholder], []) if deploying else ([], [str(placeholder)])
    return [], []


def _check_catalog(stack: str, catalog: Mapping[str, ServiceSpec]) -> list[ConfigIssue]:
    """Rules over the specs themselves: calls, routes and names derived from them."""
    issues: list[ConfigIssue] = []
    seen_priorities: dict[int, str] = {}
    for spec in catalog.values():
        path = f"services.{spec.name}"
        for callee in spec.calls:
            if callee == spec.name or callee not in catalog:
                reason = (
                    "calls itself" if callee == spec.name else f"calls unknown service '{callee}'"
                )
                issues.append(
                    ConfigIssue(
                        path=path,
                        message=f"{reason} (allowed: "
                        f"{', '.join(n for n in catalog if n != spec.name) or 'no other service'})",
                        fix=f"edit the spec of '{spec.name}' in services/",
                    )
                )
        for route in spec.routes:
            low, high = LISTENER_PRIORITY_RANGE
            if not low <= route.priority <= high:
                issues.append(
                    ConfigIssue(
                        path=path,
                        message=f"route priority {route.priority} is out of range "
                        f"(allowed: {low}..{high})",
                        fix=f"edit the spec of '{spec.name}' in services/",
                    )
                )
            other = seen_priorities.setdefault(route.priority, spec.name)
            if other != spec.name:
                issues.append(
                    ConfigIssue(
                        path=path,
                        message=f"route priority {route.priority} is also used by '{other}' "
                        "(allowed: priorities unique per listener)",
                        fix=f"edit the spec of '{spec.name}' in services/",
                    )
                )
        target_group = naming.target_group(
            naming.service_component(naming.platform(stack), spec.name)
        )
        if spec.routes and not naming.fits_lb_name_limit(target_group):
            issues.append(
                ConfigIssue(
                    path=path,
                    message=f"the target group name '{target_group}' is longer than AWS allows "
                    f"once Pulumi adds its {naming.AUTONAME_SUFFIX_LENGTH}-character suffix "
                    f"(allowed: {naming.AWS_LB_NAME_MAX} characters)",
                    fix=f"shorten the name of '{spec.name}' in services/",
                )
            )
        if "." in spec.discovery_name or not is_dns_name(spec.discovery_name):
            issues.append(
                ConfigIssue(
                    path=path,
                    message=f"Cloud Map name {_show(spec.discovery_name)} is not a DNS label "
                    "(allowed: 1..63 characters of a-z, 0-9 and '-', not starting or ending "
                    "with '-')",
                    fix=f"edit the spec of '{spec.name}' in services/",
                )
            )
    cycle = _call_cycle(catalog)
    if cycle:
        issues.append(
            ConfigIssue(
                path=f"services.{cycle[0]}",
                message=f"calls form a cycle {' -> '.join(cycle)} (allowed: calls without cycles, "
                "so that each callee's security group can admit its callers)",
                fix="edit the specs in services/",
            )
        )
    return issues


def _call_cycle(catalog: Mapping[str, ServiceSpec]) -> list[str]:
    """A call cycle as a list of names (first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> list[str]:
        state[name] = 1
        for callee in catalog[name].calls:
            if callee not in catalog or callee == name:
                continue
            if state.get(callee) == 1:
                return [*path[path.index(callee) :], callee]
            if callee not in state:
                found = visit(callee, [*path, callee])
                if found:
                    return found
        state[name] = 2
        return []

    for name in sorted(catalog):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return []


def callers_first(catalog: Mapping[str, ServiceSpec]) -> list[str]:
    """Service names ordered so that every caller comes before the services it calls."""
    ordered: list[str] = []
    remaining = dict(sorted(catalog.items()))
    while remaining:
        # A service is ready once every service that calls it is placed.
        ready = [
            name
            for name in remaining
            if not any(name in remaining[c].calls for c in remaining if c != name)
        ]
        if not ready:  # a cycle; rejected by validation
            ready = list(remaining)
        for name in ready:
            ordered.append(name)
            del remaining[name]
    return ordered


# --- entry points ----------------------------------------------------------------------------


def load_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    catalog: Mapping[str, ServiceSpec] = CATALOG,
    project: str = PROJECT,
    deploying: bool = False,
    secret_keys: frozenset[str] = frozenset(),
) -> StackSettings:
    """Validate the `microservices:*` config of one stack and merge it with the catalog.

    `raw` maps top-level keys (without the namespace) to their parsed values. Raises
    ConfigError listing every problem found. `deploying` (an update, not a preview) turns
    warnings about placeholders into errors. `secret_keys` are the top-level keys stored as
    secrets: they are refused, and their values never appear in a message.
    """
    issues: list[ConfigIssue] = []
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            issues.append(_unknown_key_issue(key, key, TOP_LEVEL_KEYS))
    for key in sorted(secret_keys & set(raw)):
        issues.append(
            ConfigIssue(
                path=key,
                message="is stored as a secret, but nothing in this config may be secret: "
                "values reach the task definition in plain text (allowed: plain values; keep a "
                "secret in Secrets Manager or SSM and name its ARN under "
                "services.<name>.secrets)",
                fix=f"pulumi config rm {key}, then set its keys again without --secret",
            )
        )
    raw = {key: value for key, value in raw.items() if key not in secret_keys}

    if not region:
        issues.append(
            ConfigIssue(
                path="aws:region",
                message="is not set (allowed: an AWS region, e.g. us-east-1)",
                fix="pulumi config set aws:region us-east-1",
            )
        )

    environment = raw.get("environment", "development")
    if environment not in get_args(Environment):
        issues.append(
            ConfigIssue(
                path="environment",
                message=f"{_show(environment)} is not allowed "
                f"(allowed: {', '.join(get_args(Environment))})",
                fix="pulumi config set environment development",
            )
        )

    blocks: dict[str, Any] = {}
    for key, model in BLOCKS.items():
        value = raw.get(key)
        blocks[key] = _parse(model, {} if value is None else value, (key,), issues)

    services_raw = raw.get("services") or {}
    services: dict[str, ServiceConfig] = {}
    if not isinstance(services_raw, Mapping):
        issues.append(
            ConfigIssue(
                path="services",
                message=f"{_show(services_raw)} is not a map of service names to settings",
                fix=rm_command("services"),
            )
        )
        services_raw = {}
    for key, value in services_raw.items():
        if key not in catalog:
            issues.append(_unknown_key_issue(f"services.{key}", str(key), catalog, noun="service"))
            continue
        parsed = _parse(ServiceConfig, {} if value is None else value, ("services", key), issues)
        if parsed is not None:
            services[key] = parsed
            issues.extend(_check_service(key, parsed, catalog[key]))

    if blocks["cluster"] is not None:
        issues.extend(_check_cluster(blocks["cluster"]))
    if blocks["network"] is not None:
        issues.extend(_check_network(blocks["network"]))
    discovery: DiscoveryConfig | None = blocks["discovery"]
    namespace = f"{stack}.internal"
    if discovery is not None:
        namespace = discovery.namespace or namespace
        if not is_dns_name(namespace):
            issues.append(
                ConfigIssue(
                    path="discovery.namespace",
                    message=f"{_show(namespace)} is not a valid DNS name (allowed: "
                    f"{DNS_NAME_RULE})",
                    fix=set_command("discovery.namespace", f"{stack}.internal"),
                )
            )
    if blocks["loadBalancer"] is not None and blocks["logs"] is not None:
        issues.extend(
            _check_stack_wide(
                stack=stack, load_balancer=blocks["loadBalancer"], logs=blocks["logs"]
            )
        )
    warnings: list[str] = []
    if blocks["loadBalancer"] is not None:
        certificate_issues, warnings = _check_certificate(
            blocks["loadBalancer"].certificate_arn,
            environment=str(environment),
            region=region,
            deploying=deploying,
        )
        issues.extend(certificate_issues)
    issues.extend(_check_catalog(stack, catalog))

    if issues:
        raise ConfigError(stack, issues)

    assert discovery is not None
    return StackSettings(
        project=project,
        stack=stack,
        region=str(region),
        environment=environment,
        network=blocks["network"],
        cluster=blocks["cluster"],
        namespace=namespace,
        record_ttl=discovery.record_ttl,
        load_balancer=blocks["loadBalancer"],
        deployment=blocks["deployment"],
        logs=blocks["logs"],
        services=tuple(
            _merge(catalog[name], services.get(name, ServiceConfig()), catalog, namespace)
            for name in callers_first(catalog)
        ),
        warnings=tuple(warnings),
    )


def _merge(
    spec: ServiceSpec,
    config: ServiceConfig,
    catalog: Mapping[str, ServiceSpec],
    namespace: str,
) -> ServiceSettings:
    callee_urls = {
        catalog[callee].url_variable: _url(catalog[callee], namespace) for callee in spec.calls
    }
    own_image = config.image in (None, spec.image)
    return ServiceSettings(
        spec=spec,
        image=config.image or spec.image,
        user=config.user or (spec.user if own_image else None),
        prepare_tmp=not (
            config.image_prepares_tmp
            if config.image_prepares_tmp is not None
            else (spec.image_prepares_tmp if own_image else False)
        ),
        cpu=config.cpu,
        memory=config.memory,
        desired_count=config.desired_count,
        autoscaling=config.autoscaling,
        environment=MappingProxyType({**spec.environment, **callee_urls, **config.environment}),
        secrets=MappingProxyType(dict(config.secrets)),
        callers=tuple(sorted(n for n, s in catalog.items() if spec.name in s.calls)),
        dns_name=f"{spec.discovery_name}.{namespace}",
        url=_url(spec, namespace),
    )


def _url(spec: ServiceSpec, namespace: str) -> str:
    return f"http://{spec.discovery_name}.{namespace}:{spec.container_port}"


def read_stack_config() -> tuple[dict[str, Any], str | None, frozenset[str]]:
    """The `microservices:*` config of the running stack, `aws:region`, and which of the
    `microservices:*` keys are stored as secrets.

    Reads every key of the project's namespace, so that a misspelt top-level key is reported
    rather than ignored. The SDK has no public call that lists config keys; its runtime
    config module holds them.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    raw: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for full_key in sorted(keys):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if runtime_config.is_config_secret(full_key):
            secret_keys.add(key)
        value = runtime_config.get_config(full_key)
        try:
            raw[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            raw[key] = value
    region = pulumi.Config("aws").get("region")
    return raw, region, frozenset(secret_keys)
