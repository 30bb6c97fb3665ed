"""`discovery.mode: serviceConnect` on the committed stacks: every service joins ECS Service
Connect on the environment's namespace, callers keep their URLs byte for byte, internal
services get request alarms that roll a release back, a traffic-shifting release of a service
without a route is accepted, and the security groups stay those of the call graph."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import yaml

import naming
from components.compute.ecs_service import SERVICE_CONNECT_LOG_PREFIX
from config import ConfigError, load_settings
from config.limits import SERVICE_CONNECT_PROXY_MEMORY
from config.schema import PER_REQUEST_TIMEOUT_DEFAULT
from config.settings import ALARM_DEFAULTS
from offline.preview.graph import architecture
from offline.preview.report import preview_text
from offline.render.harness import RecordedResource, Rendering, render
from services import CATALOG
from tests.conftest import container, containers, ecs_service, render_with
from tests.split import SplitProject, split, write_stack
from tests.test_alarms import alarms_of
from tests.test_policies import rendered_violations

MODE = ("discovery.mode", "serviceConnect")
# prod's user-service answers within its own timeout, not the environment's.
USER_SERVICE_TIMEOUT = 4
NAMESPACE_TYPE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
SECURITY_GROUP_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)
# Services without a route that others call: Service Connect measures the requests their
# callers send them (one nobody calls gets no request alarms: nothing measures it).
UNROUTED = sorted(
    name
    for name, spec in CATALOG.items()
    if not spec.routes and any(name in other.calls for other in CATALOG.values())
)


def callers_of(service: str) -> list[str]:
    return sorted(name for name, spec in CATALOG.items() if service in spec.calls)


@pytest.fixture(scope="module")
def prod_sc() -> Rendering:
    return render_with(
        "prod",
        [
            MODE,
            ("services.user-service.perRequestTimeoutSeconds", str(USER_SERVICE_TIMEOUT)),
            ("services.order-service.deployment.strategy", "canary"),
        ],
    )


@pytest.fixture(scope="module")
def dev_sc() -> Rendering:
    return render_with("dev", [MODE])


def expected_timeout(rendering: Rendering, service: str) -> int:
    if rendering.stack == "prod" and service == "user-service":
        return USER_SERVICE_TIMEOUT
    return PER_REQUEST_TIMEOUT_DEFAULT


def namespace_of(rendering: Rendering) -> RecordedResource:
    (namespace,) = rendering.of_type(NAMESPACE_TYPE)
    return namespace


def service_connect(rendering: Rendering, service: str) -> dict[str, Any]:
    configuration: dict[str, Any] = ecs_service(rendering, service).inputs[
        "serviceConnectConfiguration"
    ]
    return configuration


# --- every service on Service Connect --------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod_sc", "dev_sc"])
@pytest.mark.parametrize("service", sorted(CATALOG))
def test_every_service_joins_the_namespace(
    stack: str, service: str, request: pytest.FixtureRequest
) -> None:
    rendering: Rendering = request.getfixturevalue(stack)
    spec = CATALOG[service]
    namespace = namespace_of(rendering)
    configuration = service_connect(rendering, service)
    assert configuration["enabled"] is True
    # The same namespace as Cloud Map DNS uses: AWS says its type doesn't matter.
    assert configuration["namespace"] == f"${{{namespace.name}.arn}}"
    (endpoint,) = configuration["services"]
    # The port the endpoint names is the application container's, named and declared HTTP.
    (mapping,) = container(rendering, service)["portMappings"]
    assert mapping == {
        "containerPort": spec.container_port,
        "protocol": "tcp",
        "name": endpoint["portName"],
        "appProtocol": "http",
    }
    # Its own Cloud Map name: the DNS name stays with the service's DNS records.
    assert endpoint["discoveryName"] == naming.service_connect_discovery_name(spec.discovery_name)
    assert endpoint["clientAlias"] == [
        {
            "dnsName": f"{spec.discovery_name}.{namespace.inputs['name']}",
            "port": spec.container_port,
        }
    ]
    assert endpoint["timeout"] == {"perRequestTimeoutSeconds": expected_timeout(rendering, service)}
    log_group = rendering.named(f"{rendering.stack}-{service}-logs").inputs["name"]
    assert configuration["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": log_group,
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": SERVICE_CONNECT_LOG_PREFIX,
        },
    }
    # Its own stream prefix, apart from every container's.
    assert SERVICE_CONNECT_LOG_PREFIX not in {
        c["logConfiguration"]["options"]["awslogs-stream-prefix"]
        for c in containers(rendering, service)
    }
    # The DNS records stay beside it, for callers that have not switched yet.
    registry = ecs_service(rendering, service).inputs["serviceRegistries"]["registryArn"]
    assert registry == f"${{{rendering.stack}-{service}-discovery.arn}}"


@pytest.mark.parametrize("stack", ["prod_sc", "dev_sc"])
def test_services_keep_their_dns_records_beside_service_connect(
    stack: str, request: pytest.FixtureRequest
) -> None:
    rendering: Rendering = request.getfixturevalue(stack)
    # Cloud Map service names are unique in a namespace: ECS creates one per Service Connect
    # discovery name, beside the DNS service that keeps answering callers not yet switched.
    dns = {r.inputs["name"]: r for r in rendering.of_type("aws:servicediscovery/service:Service")}
    assert sorted(dns) == sorted(spec.discovery_name for spec in CATALOG.values())
    for service, spec in CATALOG.items():
        inputs = ecs_service(rendering, service).inputs
        registry = dns[spec.discovery_name]
        assert inputs["serviceRegistries"] == {"registryArn": f"${{{registry.name}.arn}}"}
        (endpoint,) = inputs["serviceConnectConfiguration"]["services"]
        assert endpoint["discoveryName"] not in dns
    assert len(rendering.of_type(NAMESPACE_TYPE)) == 1


def test_cloud_map_dns_renders_as_before(prod: Rendering, dev: Rendering) -> None:
    for rendering in (prod, dev):
        assert len(rendering.of_type("aws:servicediscovery/service:Service")) == len(CATALOG)
        for service in CATALOG:
            assert "serviceConnectConfiguration" not in ecs_service(rendering, service).inputs
            (mapping,) = container(rendering, service)["portMappings"]
            assert mapping == {"containerPort": CATALOG[service].container_port, "protocol": "tcp"}


def test_the_proxy_keeps_memory_beside_the_containers_limits(prod_sc: Rendering) -> None:
    # ECS wants the task's memory above the sum of its containers' limits; the proxy lives there.
    # prod traces, so its containers have limits (the collector's, and the application's).
    for service in CATALOG:
        task = prod_sc.named(f"prod-{service}-task", "aws:ecs/taskDefinition:TaskDefinition")
        limits = sum(c.get("memory", 0) for c in containers(prod_sc, service))
        assert limits > 0, service
        assert int(task.inputs["memory"]) - limits == SERVICE_CONNECT_PROXY_MEMORY


def test_services_start_after_the_services_they_call(prod_sc: Rendering) -> None:
    # A task resolves only the endpoints that exist when it starts.
    for service, spec in CATALOG.items():
        waits_for = set(ecs_service(prod_sc, service).dependencies)
        for callee in spec.calls:
            assert ecs_service(prod_sc, callee).urn in waits_for, (service, callee)


# --- callers keep their URLs -----------------------------------------------------------------


@pytest.mark.parametrize("pair", [("prod", "prod_sc"), ("dev", "dev_sc")])
def test_caller_environment_is_byte_identical(
    pair: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    before: Rendering = request.getfixturevalue(pair[0])
    after: Rendering = request.getfixturevalue(pair[1])
    for service, spec in CATALOG.items():
        environment = container(after, service)["environment"]
        assert json.dumps(environment) == json.dumps(container(before, service)["environment"])
        variables = {item["name"]: item["value"] for item in environment}
        for callee in spec.calls:
            (alias,) = service_connect(after, callee)["services"][0]["clientAlias"]
            # The URL a caller has names exactly the callee's client alias.
            assert variables[CATALOG[callee].url_variable] == (
                f"http://{alias['dnsName']}:{alias['port']}"
            )


# --- request alarms and releases -------------------------------------------------------------


def _metrics(alarm: RecordedResource) -> list[dict[str, Any]]:
    return [q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q]


@pytest.mark.parametrize("service", UNROUTED)
def test_internal_services_get_request_alarms(prod_sc: Rendering, service: str) -> None:
    callers = callers_of(service)
    defaults = ALARM_DEFAULTS["production"]
    cluster = naming.cluster_name(prod_sc.project, prod_sc.stack)
    discovery = naming.service_connect_discovery_name(CATALOG[service].discovery_name)
    alarms = alarms_of(prod_sc, service)
    assert set(alarms) == {
        "cpu-high",
        "memory-high",
        "running-tasks-low",
        "5xx-rate",
        "latency-average",
    }

    rate = alarms["5xx-rate"]
    assert sorted(
        (m["namespace"], m["metricName"], m["stat"], json.dumps(m["dimensions"], sort_keys=True))
        for m in _metrics(rate)
    ) == sorted(
        [
            (
                "AWS/ECS",
                "HTTPCode_Target_5XX_Count",
                "Sum",
                json.dumps(
                    {
                        "ClusterName": cluster,
                        "ServiceName": caller,
                        "TargetDiscoveryName": discovery,
                    },
                    sort_keys=True,
                ),
            )
            for caller in callers
        ]
        + [
            (
                "AWS/ECS",
                "RequestCount",
                "Sum",
                json.dumps(
                    {"ClusterName": cluster, "DiscoveryName": discovery, "ServiceName": service},
                    sort_keys=True,
                ),
            )
        ]
    )
    (returned,) = [q for q in rate.inputs["metricQueries"] if q.get("returnData")]
    assert returned["expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert rate.inputs["threshold"] == defaults.http5xx_percent
    assert rate.inputs["treatMissingData"] == "notBreaching"

    # The average: the statistics AWS lists for Service Connect's response time have no p99.
    latency = alarms["latency-average"]
    assert sorted(
        (m["metricName"], m["stat"], m["dimensions"]["ServiceName"]) for m in _metrics(latency)
    ) == [("TargetResponseTime", "Average", caller) for caller in callers]
    assert {m["dimensions"]["TargetDiscoveryName"] for m in _metrics(latency)} == {discovery}
    # Service Connect reports TargetResponseTime in milliseconds, the load balancer in seconds.
    assert latency.inputs["threshold"] == defaults.latency_p99_ms


@pytest.mark.parametrize("service", UNROUTED)
def test_release_alarms_list_the_request_alarms(prod_sc: Rendering, service: str) -> None:
    alarms = alarms_of(prod_sc, service)
    inputs = ecs_service(prod_sc, service).inputs
    assert sorted(inputs["alarms"]["alarmNames"]) == sorted(
        alarms[name].inputs["name"] for name in ("5xx-rate", "latency-average")
    )
    assert (inputs["alarms"]["enable"], inputs["alarms"]["rollback"]) == (True, True)


def test_routed_services_keep_their_load_balancer_alarms(
    prod: Rendering, prod_sc: Rendering
) -> None:
    for service, spec in CATALOG.items():
        if spec.routes:
            assert {n: a.inputs for n, a in alarms_of(prod_sc, service).items()} == {
                n: a.inputs for n, a in alarms_of(prod, service).items()
            }


def test_dev_watches_internal_requests_without_rolling_back(dev_sc: Rendering) -> None:
    defaults = ALARM_DEFAULTS["development"]
    for service in UNROUTED:
        alarms = alarms_of(dev_sc, service)
        assert alarms["latency-average"].inputs["threshold"] == defaults.latency_p99_ms
        sent = ecs_service(dev_sc, service).inputs["alarms"]
        assert (sent["enable"], sent["rollback"]) == (False, False)


def test_a_canary_on_order_service_is_accepted(prod_sc: Rendering) -> None:
    inputs = ecs_service(prod_sc, "order-service").inputs
    assert inputs["deploymentController"] == {"type": "ECS"}
    assert inputs["deploymentConfiguration"] == {
        "strategy": "CANARY",
        "bakeTimeInMinutes": "5",
        "canaryConfiguration": {"canaryPercent": 5, "canaryBakeTimeInMinutes": "10"},
    }
    # ECS shifts its Service Connect traffic: no load balancer, so no role to shift one.
    assert "loadBalancers" not in inputs
    assert not [r for r in prod_sc.resources if r.name == "prod-order-service-infrastructure-role"]


def test_without_service_connect_the_canary_is_still_refused() -> None:
    refused = render_with(
        "prod", [("services.order-service.deployment.strategy", "canary")], check=False
    )
    assert refused.resources == []
    assert str(refused.error).splitlines()[1:] == [
        '  services.order-service.deployment.strategy: "canary" shifts traffic between two '
        "target groups at the load balancer, and order-service has no route (allowed: rolling; "
        "a traffic-shifting strategy needs the service behind the ALB, through a route in its "
        "spec, or on ECS Service Connect: discovery.mode serviceConnect); fix: pulumi config "
        "set --path 'services.order-service.deployment.strategy' rolling"
    ]


def test_service_connect_alarm_keys_are_accepted_for_internal_services() -> None:
    rendering = render_with(
        "dev",
        [
            MODE,
            ("services.user-service.alarms.latencyP99Ms", "250"),
            ("services.user-service.alarms.http5xxPercent", "1.5"),
        ],
    )
    alarms = alarms_of(rendering, "user-service")
    assert alarms["latency-average"].inputs["threshold"] == 250
    assert alarms["5xx-rate"].inputs["threshold"] == 1.5


# --- security groups follow the call graph ---------------------------------------------------


@pytest.mark.parametrize("pair", [("prod", "prod_sc"), ("dev", "dev_sc")])
def test_security_groups_are_the_call_graphs(
    pair: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    # The proxies listen on the container port and reach each other on it: the rules that
    # let a caller reach its callee's port are all they need.
    before: Rendering = request.getfixturevalue(pair[0])
    after: Rendering = request.getfixturevalue(pair[1])

    def rules(rendering: Rendering) -> Counter[tuple[str, str, str]]:
        return Counter(
            (r.type, r.name, json.dumps(r.inputs, sort_keys=True))
            for type_ in SECURITY_GROUP_TYPES
            for r in rendering.of_type(type_)
        )

    assert rules(after) == rules(before)


# --- the offline preview and graph -----------------------------------------------------------


def test_preview_and_graph_show_the_mode(prod: Rendering, prod_sc: Rendering) -> None:
    assert "\nService discovery: cloudMapDns (Cloud Map DNS records in prod.internal" in (
        preview_text(prod)
    )
    assert "\nService discovery: serviceConnect (ECS Service Connect in prod.internal" in (
        preview_text(prod_sc)
    )
    labels = {(e.source, e.target): e.label for e in architecture(prod_sc).edges}
    for service, spec in CATALOG.items():
        for callee in spec.calls:
            (alias,) = service_connect(prod_sc, callee)["services"][0]["clientAlias"]
            key = ("svc_" + service.replace("-", "_"), "svc_" + callee.replace("-", "_"))
            assert labels[key] == f"Service Connect {alias['dnsName']}:{alias['port']}"


# --- platform and service stacks --------------------------------------------------------------


@pytest.fixture(scope="module")
def sc_project(tmp_path_factory: pytest.TempPathFactory) -> SplitProject:
    project = split(tmp_path_factory.mktemp("split-sc") / "project")
    platform_file = project.directory / f"Pulumi.{project.platform}.yaml"
    document = yaml.safe_load(platform_file.read_text())["config"]
    document["microservices:discovery"] = {"mode": "serviceConnect"}
    write_stack(project.directory, project.platform, document)
    return project


@pytest.mark.slow  # a split proof: every service stack rendered
def test_the_split_registers_what_the_all_in_one_stack_registers(sc_project: SplitProject) -> None:
    def registered(rendering: Rendering) -> Counter[tuple[str, str, str]]:
        return Counter(
            (r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in rendering.resources
        )

    platform = render(sc_project.platform, project_dir=sc_project.directory)
    contract = platform.outputs["platform"]
    assert contract["discovery"]["mode"] == "serviceConnect"
    assert contract["namespaceArn"] == f"${{{namespace_of(platform).name}.arn}}"
    assert all(e["discoveryServiceArn"] for e in contract["endpoints"].values())
    total = registered(platform)
    for stack in sc_project.service_stacks.values():
        total += registered(render(stack, project_dir=sc_project.directory))
    all_in_one = registered(render_with("prod", [MODE]))
    assert total - all_in_one == Counter(), "the split registers more"
    assert all_in_one - total == Counter(), "the split misses resources"


def test_a_service_stack_takes_its_platforms_mode(sc_project: SplitProject) -> None:
    platform = render(sc_project.platform, project_dir=sc_project.directory)
    outputs = json.loads(json.dumps(platform.outputs))
    reference = f"acme/microservices/{sc_project.platform}"
    raw = {
        "platform": reference,
        "services": {
            "order-service": {"deployment": {"strategy": "canary"}, "perRequestTimeoutSeconds": 3}
        },
    }
    settings = load_settings(raw, stack="prod-order-service", region="us-east-1", platform=outputs)
    assert settings.service_connect
    assert settings.service("order-service").per_request_timeout_seconds == 3

    outputs["platform"]["discovery"]["mode"] = "cloudMapDns"
    with pytest.raises(ConfigError) as raised:
        load_settings(raw, stack="prod-order-service", region="us-east-1", platform=outputs)
    assert [issue.path for issue in raised.value.issues] == [
        "services.order-service.deployment.strategy",
        "services.order-service.perRequestTimeoutSeconds",
    ]


def test_the_dns_record_ttl_applies_under_service_connect_too() -> None:
    rendering = render_with("dev", [MODE, ("discovery.recordTtl", "30")])
    ttls = {
        record["ttl"]
        for registry in rendering.of_type("aws:servicediscovery/service:Service")
        for record in registry.inputs["dnsConfig"]["dnsRecords"]
    }
    assert ttls == {30}


def test_prod_on_service_connect_meets_every_control(prod_sc: Rendering) -> None:
    assert rendered_violations(prod_sc) == {}
