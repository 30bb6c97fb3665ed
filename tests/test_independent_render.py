"""The real `dev` and `prod` stacks, rendered with the stock Pulumi mock runtime only.

Independent of `offline/` on purpose: the stack file is read and passed as config the way the
Pulumi CLI does, `__main__.py` runs unchanged, and every resource is recorded by a plain
`pulumi.runtime.Mocks`. The assertions follow references between resources (ids and ARNs the
mocks hand out) rather than trusting names, so a wrong wire fails even if the names look right.
What each service must look like comes from its spec in `services/` and from the stack file,
so that adding a service to the catalog extends the checks instead of breaking them.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from services import CATALOG

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "microservices"
STACKS = ("dev", "prod")

ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_CLUSTER = "aws:ecs/cluster:Cluster"
NAMESPACE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
DISCOVERY_SERVICE = "aws:servicediscovery/service:Service"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SCALING_TARGET = "aws:appautoscaling/target:Target"
AWSX_VPC = "awsx:ec2:Vpc"

ACCOUNT_ID = "123456789012"
TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ALB = "alb"  # the ALB's node in the security-group graph

# AWS's Fargate task sizes (cpu units -> allowed MiB), restated here rather than imported from
# config.py so that a wrong table in the program cannot vouch for itself.
FARGATE_SIZES: Mapping[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4096 + 1, 1024)),
    1024: frozenset(range(2048, 8192 + 1, 1024)),
    2048: frozenset(range(4096, 16384 + 1, 1024)),
    4096: frozenset(range(8192, 30720 + 1, 1024)),
    8192: frozenset(range(16384, 61440 + 1, 4096)),
    16384: frozenset(range(32768, 122880 + 1, 8192)),
}

SECRET_NAME = re.compile(r"(?i)(secret|passw(or)?d|token|api[_-]?key|private[_-]?key|credential)")
SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|://[^/\s:@]+:[^/\s@]+@"  # credentials inside a URL
    r"|:secretsmanager:|:ssm:[^:]*:\d{12}:parameter/"  # belongs in `secrets`, not `environment`
)


@dataclass(frozen=True, kw_only=True)
class ServiceFacts:
    dns_name: str
    container_name: str
    port: int
    url_variable: str
    calls: tuple[str, ...]
    route_priorities: tuple[int, ...]


# What each service of the catalog must look like once deployed, from its spec. The URL
# variable is restated from the documented convention (USER_SERVICE_URL for user-service)
# rather than read from the spec, so that a wrong property cannot vouch for itself.
SERVICES: Mapping[str, ServiceFacts] = {
    name: ServiceFacts(
        dns_name=spec.discovery_name,
        container_name=spec.container_name,
        port=spec.container_port,
        url_variable=name.upper().replace("-", "_") + "_URL",
        calls=spec.calls,
        route_priorities=tuple(sorted(route.priority for route in spec.routes)),
    )
    for name, spec in CATALOG.items()
}
ROUTED = tuple(name for name, facts in SERVICES.items() if facts.route_priorities)

# Who may open a connection to whom: (source, target, port). Nothing else may reach a service.
EXPECTED_EDGES: tuple[tuple[str, str, int], ...] = (
    *((ALB, name, SERVICES[name].port) for name in ROUTED),
    *(
        (caller, callee, SERVICES[callee].port)
        for caller, facts in SERVICES.items()
        for callee in facts.calls
    ),
)


@dataclass(frozen=True, kw_only=True)
class Expected:
    namespace: str
    availability_zones: int
    https: bool


EXPECTED: Mapping[str, Expected] = {
    "dev": Expected(namespace="dev.internal", availability_zones=2, https=False),
    "prod": Expected(namespace="prod.internal", availability_zones=3, https=True),
}


# --- the render ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Resource:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]


@dataclass(kw_only=True)
class Render:
    stack: str
    config: dict[str, Any]
    """The stack file's `config:` block, parsed."""
    resources: list[Resource] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Resource:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
        return found[0]

    def by_arn(self, arn: str) -> Resource:
        found = [r for r in self.resources if r.state.get("arn") == arn]
        assert len(found) == 1, f"no single resource has arn {arn!r}"
        return found[0]

    def by_id(self, id_: str) -> Resource:
        found = [r for r in self.resources if r.id == id_]
        assert len(found) == 1, f"no single resource has id {id_!r}"
        return found[0]

    @property
    def expected(self) -> Expected:
        return EXPECTED[self.stack]

    def service_config(self, name: str) -> dict[str, Any]:
        return (self.config.get(f"{PROJECT}:services") or {}).get(name) or {}

    @property
    def bands(self) -> dict[str, tuple[int, int]]:
        """(minCount, maxCount) of each service the stack file autoscales."""
        return {
            name: (band["minCount"], band["maxCount"])
            for name in SERVICES
            if (band := self.service_config(name).get("autoscaling")) is not None
        }

    @property
    def desired_counts(self) -> dict[str, int]:
        """The stack file's desiredCount (default 1), brought inside the band if it has one,
        as the README says a service starts."""
        counts = {}
        for name in SERVICES:
            desired = self.service_config(name).get("desiredCount", 1)
            if name in self.bands:
                low, high = self.bands[name]
                desired = min(max(desired, low), high)
            counts[name] = desired
        return counts

    def ecs_services(self) -> dict[str, Resource]:
        return {r.inputs["name"]: r for r in self.of_type(ECS_SERVICE)}

    def task_definition(self, service: Resource) -> Resource:
        task = self.by_arn(service.inputs["taskDefinition"])
        assert task.type == TASK_DEFINITION
        return task

    def containers(self, service: Resource) -> list[dict[str, Any]]:
        return json.loads(self.task_definition(service).inputs["containerDefinitions"])

    def container(self, service: Resource) -> dict[str, Any]:
        """The service's one essential container: the application."""
        (definition,) = [c for c in self.containers(service) if c.get("essential")]
        return definition

    def vpc(self) -> Resource:
        return self.one(AWSX_VPC)

    def alb(self) -> Resource:
        return self.one(LOAD_BALANCER)


def _plain(value: Any) -> Any:
    """Numbers cross the mock monitor as floats; whole ones become ints to compare plainly."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like a provider would and records each registration."""

    def __init__(self) -> None:
        self.resources: list[Resource] = []

    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test",
                "userId": "AIDATEST",
                "id": ACCOUNT_ID,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsSuffix": "com.amazonaws",
                "id": "aws",
            }
        if args.token == "aws:lb/getListenerRule:getListenerRule":
            # A rule as created: all traffic on the first group it forwards to.
            rule = next(r for r in self.resources if r.state.get("arn") == args.args["arn"])
            return {"arn": args.args["arn"], "actions": _rule_actions(rule.inputs["actions"])}
        # An invoke nobody planned for should fail loudly, not get an empty answer.
        raise NotImplementedError(f"unexpected invoke {args.token}")

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = _plain(args.inputs)
        kind = args.typ.rsplit(":", 1)[-1].lower()
        if args.typ == AWSX_VPC:
            # A remote component: its outputs are whatever the "provider" says they are.
            count = int(inputs["numberOfAvailabilityZones"])
            id_ = ""
            state: dict[str, Any] = {
                "vpcId": f"vpc-{args.name}",
                "publicSubnetIds": [f"subnet-public-{i}" for i in range(count)],
                "privateSubnetIds": [f"subnet-private-{i}" for i in range(count)],
            }
        elif args.typ == "awsx:ecr:Image":
            # A remote component that builds and pushes: the pushed digest is its output.
            id_ = ""
            state = {"imageUri": f"{inputs['repositoryUrl']}@sha256:{'0' * 64}"}
        elif not args.custom:
            id_, state = "", {}
        else:
            # Type in ids and ARNs: logical names repeat across types (e.g. prod-cluster).
            id_ = f"id-{kind}-{args.name}"
            state = {**inputs, "arn": f"arn:aws:mock:{kind}/{args.name}"}
            state.setdefault("name", args.name)
            if args.typ.startswith("aws:lb/"):
                state["dnsName"] = f"{args.name}.elb.mock"
                state["arnSuffix"] = f"{kind}/{args.name}"
            if args.typ == "aws:sqs/queue:Queue":
                state["url"] = f"https://sqs.mock/{state['name']}"
            if args.typ == "aws:dynamodb/table:Table":
                state["streamArn"] = f"{state['arn']}/stream/mock"
        self.resources.append(
            Resource(type=args.typ, name=args.name, id=id_, inputs=inputs, state=state)
        )
        return id_, state


def _rule_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A listener rule's actions as the provider's data source returns them: each forward
    block under `forwards`."""
    return [
        {
            "type": action["type"],
            "order": action.get("order", 1),
            "forwards": [action["forward"]] if "forward" in action else [],
        }
        for action in actions
    ]


def _stack_file(stack: str) -> dict[str, Any]:
    with (PROJECT_DIR / f"Pulumi.{stack}.yaml").open() as stream:
        return yaml.safe_load(stream)["config"]


def _cli_config(stack: str) -> dict[str, Any]:
    """The stack's config; for a platform stack, the whole environment as one stack: its file
    without `serviceStacks`, with the `services` of the service stacks that name it (what
    docs/split-stacks.md says the split registers, restated here rather than taken from
    offline/)."""
    config = _stack_file(stack)
    if config.pop(f"{PROJECT}:serviceStacks", False) is not True:
        return config
    services: dict[str, Any] = {}
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        other = _stack_file(path.name[len("Pulumi.") : -len(".yaml")])
        reference = str(other.get(f"{PROJECT}:platform") or "")
        if reference.split("/")[-1] == stack and reference.count("/") == 2:
            services.update(other.get(f"{PROJECT}:services") or {})
    return {**config, f"{PROJECT}:services": services}


def _as_cli_passes_it(value: Any) -> str:
    """The CLI hands a program strings as they are and every other value as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _reset_runtime() -> None:
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    runtime_config.set_all_config({})


def _render(stack: str) -> Render:
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    config = _cli_config(stack)
    runtime_config.set_all_config({k: _as_cli_passes_it(v) for k, v in config.items()})
    # A fresh root stack per render; set_mocks creates one when there is none.
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks = RecordingMocks()
    # As `pulumi preview` runs it: an update rightly refuses prod's placeholder certificate.
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=True, monitor=MockMonitor(mocks)
    )
    program = str(PROJECT_DIR / "__main__.py")
    _sync_await(run_pulumi_func(lambda: runpy.run_path(program, run_name="__main__")))
    return Render(stack=stack, config=config, resources=mocks.resources)


@pytest.fixture(scope="module", params=STACKS)
def render(request: pytest.FixtureRequest) -> Iterator[Render]:
    try:
        yield _render(request.param)
    finally:
        _reset_runtime()


# --- ECS services --------------------------------------------------------------------------


def test_exactly_the_catalogs_services_with_the_stacks_desired_counts(render: Render) -> None:
    services = render.ecs_services()
    assert len(render.of_type(ECS_SERVICE)) == len(SERVICES)
    assert set(services) == set(SERVICES)
    counts = {name: service.inputs.get("desiredCount") for name, service in services.items()}
    assert counts == render.desired_counts


def test_services_run_on_fargate_capacity_providers(render: Render) -> None:
    configured = [
        {"capacityProvider": p["provider"], "weight": p.get("weight", 0), "base": p.get("base", 0)}
        for p in render.config[f"{PROJECT}:cluster"]["capacityProviders"]
    ]
    for name, service in render.ecs_services().items():
        # ECS rejects launchType together with a capacity provider strategy.
        assert "launchType" not in service.inputs, name
        strategy = service.inputs.get("capacityProviderStrategies")
        assert strategy, f"{name} has no capacity provider strategy"
        assert {s["capacityProvider"] for s in strategy} <= {"FARGATE", "FARGATE_SPOT"}, name
        assert strategy == configured, name


def test_services_run_in_private_subnets_without_public_ips(render: Render) -> None:
    vpc = render.vpc()
    assert vpc.inputs["numberOfAvailabilityZones"] == render.expected.availability_zones
    private = vpc.state["privateSubnetIds"]
    public = vpc.state["publicSubnetIds"]
    for name, service in render.ecs_services().items():
        network = service.inputs["networkConfiguration"]
        assert network.get("assignPublicIp") is False, name
        assert sorted(network["subnets"]) == sorted(private), name
        assert not set(network["subnets"]) & set(public), name


def test_deployments_roll_back_on_failure(render: Render) -> None:
    for name, service in render.ecs_services().items():
        breaker = service.inputs.get("deploymentCircuitBreaker")
        assert breaker == {"enable": True, "rollback": True}, name


# --- task definitions ----------------------------------------------------------------------


def test_each_service_runs_its_own_task_definition(render: Render) -> None:
    tasks = render.of_type(TASK_DEFINITION)
    used = [render.task_definition(s).name for s in render.ecs_services().values()]
    assert sorted(used) == sorted(t.name for t in tasks)


def test_task_definitions_are_valid_fargate_tasks(render: Render) -> None:
    configured = render.config[f"{PROJECT}:services"]
    for name, service in render.ecs_services().items():
        task = render.task_definition(service).inputs
        assert task["requiresCompatibilities"] == ["FARGATE"], name
        assert task["networkMode"] == "awsvpc", name
        cpu, memory = int(task["cpu"]), int(task["memory"])
        assert memory in FARGATE_SIZES.get(cpu, frozenset()), f"{name}: {cpu}/{memory}"
        # What the stack file asks for is what gets deployed.
        wanted = configured.get(name) or {}
        assert cpu == wanted.get("cpu", cpu), name
        assert memory == wanted.get("memory", memory), name


def test_containers_are_hardened_and_log_to_cloudwatch(render: Render) -> None:
    for name, service in render.ecs_services().items():
        container = render.container(service)
        assert container["name"] == SERVICES[name].container_name
        assert container.get("readonlyRootFilesystem") is True, name
        assert container.get("privileged") is False, name
        assert container.get("logConfiguration", {}).get("logDriver") == "awslogs", name
        assert container.get("user") not in (None, "0", "root"), name


def test_tmp_is_prepared_before_the_application_starts(render: Render) -> None:
    # Fargate creates bind-mount volumes root-owned (0755), unless the image declares the
    # path as a VOLUME owned by its user; otherwise the non-root application can write its
    # /tmp only after a short, non-essential init container has opened it up.
    for name, service in render.ecs_services().items():
        application = render.container(service)
        # The task's other containers that touch /tmp (a trace collector, say, does not).
        containers = {
            c["name"]: c
            for c in render.containers(service)
            if c is application
            or any(m["containerPath"] == "/tmp" for m in c.get("mountPoints", []))
        }
        (volume,) = render.task_definition(service).inputs["volumes"]
        assert application["mountPoints"] == [
            {"sourceVolume": volume["name"], "containerPath": "/tmp", "readOnly": False}
        ], name
        if CATALOG[name].image_prepares_tmp:
            assert set(containers) == {application["name"]}, name
            assert "dependsOn" not in application, name
            continue
        (helper_name,) = set(containers) - {application["name"]}
        helper = containers[helper_name]
        assert helper["essential"] is False, name
        assert helper["readonlyRootFilesystem"] is True, name
        assert [m["containerPath"] for m in helper["mountPoints"]] == ["/tmp"], name
        assert application["dependsOn"] == [
            {"containerName": helper_name, "condition": "SUCCESS"}
        ], name


def test_no_secrets_in_plain_environment(render: Render) -> None:
    for name, service in render.ecs_services().items():
        for variable in render.container(service).get("environment", []):
            key, value = variable["name"], str(variable["value"])
            assert not SECRET_NAME.search(key), f"{name}: {key} looks like a secret"
            assert not SECRET_VALUE.search(value), f"{name}: {key} holds a secret-looking value"


def test_callers_get_their_callees_urls(render: Render) -> None:
    namespace = render.expected.namespace
    for name, service in render.ecs_services().items():
        environment = {v["name"]: v["value"] for v in render.container(service)["environment"]}
        urls = {k: v for k, v in environment.items() if k.endswith("_SERVICE_URL")}
        # Exactly the services it calls, at their Cloud Map names in this stack's namespace.
        assert urls == {
            SERVICES[callee].url_variable: (
                f"http://{SERVICES[callee].dns_name}.{namespace}:{SERVICES[callee].port}"
            )
            for callee in SERVICES[name].calls
        }, name


# --- Cloud Map -----------------------------------------------------------------------------


def test_private_dns_namespace_in_the_vpc(render: Render) -> None:
    namespace = render.one(NAMESPACE)
    assert namespace.inputs["name"] == render.expected.namespace
    assert namespace.inputs["vpc"] == render.vpc().state["vpcId"]


def test_discovery_services_publish_a_records_in_the_namespace(render: Render) -> None:
    namespace = render.one(NAMESPACE)
    discovery = render.of_type(DISCOVERY_SERVICE)
    assert sorted(d.inputs["name"] for d in discovery) == sorted(
        f.dns_name for f in SERVICES.values()
    )
    for entry in discovery:
        dns = entry.inputs["dnsConfig"]
        assert dns["namespaceId"] == namespace.id, entry.name
        assert dns["dnsRecords"], entry.name
        assert {r["type"] for r in dns["dnsRecords"]} == {"A"}, entry.name


def test_each_service_registers_in_its_own_discovery_service(render: Render) -> None:
    for name, service in render.ecs_services().items():
        registries = service.inputs.get("serviceRegistries")
        assert isinstance(registries, dict), f"{name} registers nowhere"
        registry = render.by_arn(registries["registryArn"])
        assert registry.type == DISCOVERY_SERVICE, name
        assert registry.inputs["name"] == SERVICES[name].dns_name, name


# --- load balancer -------------------------------------------------------------------------


def test_routed_services_and_only_they_sit_behind_the_alb(render: Render) -> None:
    services = render.ecs_services()
    assert "api-gateway" in ROUTED  # the public entry point
    for name in ROUTED:
        facts = SERVICES[name]
        attachments = services[name].inputs.get("loadBalancers") or []
        assert len(attachments) == 1, f"{name} has {len(attachments)} load balancer attachments"
        attachment = attachments[0]
        assert attachment["containerName"] == facts.container_name, name
        assert attachment["containerPort"] == facts.port, name
        target_group = render.by_arn(attachment["targetGroupArn"])
        assert target_group.type == TARGET_GROUP, name
        assert target_group.inputs["targetType"] == "ip", name  # awsvpc tasks register by IP
        assert target_group.inputs["port"] == facts.port, name
        assert target_group.inputs.get("vpcId") == render.vpc().state["vpcId"], name
        # The name and port the ALB targets must be the container's own.
        container = render.container(services[name])
        assert container["name"] == attachment["containerName"], name
        assert facts.port in [m["containerPort"] for m in container["portMappings"]], name
    for name in set(SERVICES) - set(ROUTED):
        assert not services[name].inputs.get("loadBalancers"), name


def forwarded_to(action: dict) -> set[str]:
    """The target groups a forward action sends requests to (weight above 0)."""
    groups = {action["targetGroupArn"]} if action.get("targetGroupArn") else set()
    for group in action.get("forward", {}).get("targetGroups", []):
        if group.get("weight", 1) > 0:
            groups.add(group["arn"])
    return groups


def test_each_route_is_a_listener_rule_on_the_main_listener(render: Render) -> None:
    main_port = 443 if render.expected.https else 80
    services = render.ecs_services()
    for name in ROUTED:
        (attachment,) = services[name].inputs["loadBalancers"]
        forwarding = [
            rule
            for rule in render.of_type(LISTENER_RULE)
            if any(
                a.get("type") == "forward" and attachment["targetGroupArn"] in forwarded_to(a)
                for a in rule.inputs["actions"]
            )
        ]
        # One rule per route of the spec, at the spec's priorities.
        priorities = sorted(rule.inputs["priority"] for rule in forwarding)
        assert tuple(priorities) == SERVICES[name].route_priorities, name
        for rule in forwarding:
            listener = render.by_arn(rule.inputs["listenerArn"])
            assert listener.inputs["port"] == main_port, rule.name


def test_alb_is_internet_facing_on_public_subnets(render: Render) -> None:
    alb = render.alb().inputs
    assert alb.get("internal") is False
    assert alb.get("loadBalancerType") == "application"
    assert sorted(alb["subnets"]) == sorted(render.vpc().state["publicSubnetIds"])
    if render.stack == "prod":
        assert alb.get("enableDeletionProtection") is True


def test_listeners_match_the_stacks_tls_setting(render: Render) -> None:
    alb = render.alb()
    listeners = [
        r for r in render.of_type(LISTENER) if r.inputs["loadBalancerArn"] == alb.state["arn"]
    ]
    assert len(listeners) == len(render.of_type(LISTENER)), "a listener on another ALB"
    by_port = {listener.inputs["port"]: listener.inputs for listener in listeners}
    assert len(by_port) == len(listeners), "two listeners on one port"
    if render.expected.https:
        assert set(by_port) == {80, 443}
        https = by_port[443]
        assert https["protocol"] == "HTTPS"
        assert https["sslPolicy"] == TLS13_POLICY
        certificate = render.config[f"{PROJECT}:loadBalancer"]["certificateArn"]
        assert https["certificateArn"] == certificate
        http = by_port[80]
        assert http["protocol"] == "HTTP"
        (action,) = http["defaultActions"]
        assert action["type"] == "redirect"
        assert action["redirect"]["protocol"] == "HTTPS"
        assert action["redirect"]["port"] == "443"
    else:
        assert set(by_port) == {80}
        http = by_port[80]
        assert http["protocol"] == "HTTP"
        assert "sslPolicy" not in http
        assert "certificateArn" not in http


# --- security groups -----------------------------------------------------------------------


def _group_owners(render: Render) -> dict[str, str]:
    """Security group id -> the service (or the ALB) that uses it."""
    owners: dict[str, str] = {}
    for name, service in render.ecs_services().items():
        (group,) = service.inputs["networkConfiguration"]["securityGroups"]
        owners[group] = name
    (alb_group,) = render.alb().inputs["securityGroups"]
    owners[alb_group] = ALB
    # Each service and the ALB must have a group of its own, and each a real SecurityGroup.
    assert len(owners) == len(SERVICES) + 1
    for group in owners:
        assert render.by_id(group).type == SECURITY_GROUP
    return owners


def _ingress_by_target(render: Render) -> dict[str, list[dict[str, Any]]]:
    owners = _group_owners(render)
    rules: dict[str, list[dict[str, Any]]] = {owner: [] for owner in owners.values()}
    for rule in render.of_type(INGRESS_RULE):
        target = owners.get(rule.inputs["securityGroupId"])
        assert target is not None, f"{rule.name} opens a group no service or ALB uses"
        # One protocol and one port: "-1" or a range would open more than intended.
        assert rule.inputs["ipProtocol"] == "tcp", rule.name
        assert rule.inputs["fromPort"] == rule.inputs["toPort"], rule.name
        source = rule.inputs.get("referencedSecurityGroupId")
        rules[target].append(
            {
                **rule.inputs,
                "source": owners.get(source, f"unknown group {source}") if source else None,
            }
        )
    return rules


def test_service_ingress_is_exactly_the_call_graph(render: Render) -> None:
    edges: list[tuple[str, str, int]] = []
    for target, rules in _ingress_by_target(render).items():
        if target == ALB:
            continue
        for rule in rules:
            assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule), (
                f"{target} admits an address range"
            )
            assert rule["source"] is not None, f"{target} admits an unnamed source"
            edges.append((rule["source"], target, rule["fromPort"]))
    # A list, not a set: a duplicate rule fails on AWS too.
    assert sorted(edges) == sorted(EXPECTED_EDGES)


def test_alb_admits_the_internet_only_on_its_listener_ports(render: Render) -> None:
    rules = _ingress_by_target(render)[ALB]
    assert all(rule["source"] is None and rule.get("cidrIpv4") for rule in rules)
    assert {rule["fromPort"] for rule in rules} == ({80, 443} if render.expected.https else {80})


# --- autoscaling ---------------------------------------------------------------------------


def test_one_scaling_target_per_service_with_the_stacks_band(render: Render) -> None:
    cluster = render.one(ECS_CLUSTER)
    services = render.ecs_services()
    targets = render.of_type(SCALING_TARGET)
    # A target for each service the stack file autoscales, and none for a fixed count.
    assert len(targets) == len(render.bands)
    by_service: dict[str, dict[str, Any]] = {}
    for target in targets:
        match = re.fullmatch(r"service/([^/]+)/([^/]+)", target.inputs["resourceId"])
        assert match is not None, target.name
        assert match[1] == cluster.inputs["name"], target.name
        assert target.inputs["serviceNamespace"] == "ecs", target.name
        assert target.inputs["scalableDimension"] == "ecs:service:DesiredCount", target.name
        by_service[match[2]] = target.inputs
    assert set(by_service) == set(render.bands)
    for name, service in services.items():
        assert service.inputs["cluster"] == cluster.state["arn"], name
        if name not in render.bands:
            continue
        band = (by_service[name]["minCapacity"], by_service[name]["maxCapacity"])
        assert band == render.bands[name], name
        # The first deployment must start inside the band the scaler will enforce.
        assert band[0] <= service.inputs["desiredCount"] <= band[1], name
