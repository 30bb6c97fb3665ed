"""`dev` and `prod` rendered from their real stack files: what each creates and how they differ."""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest

import naming
from config.calls import callers_of
from offline.render.environments import environment_document
from offline.render.harness import Rendering
from services import CATALOG
from tests.conftest import container, ecs_service, environment_of, render_with

SERVICES = tuple(CATALOG)
ROUTED = tuple(name for name, spec in CATALOG.items() if spec.routes)
SERVICE_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def group_names(rendering: Rendering) -> dict[str, str]:
    """Security group id reference -> a readable owner: a service name or `alb`."""
    names: dict[str, str] = {}
    for group in rendering.of_type(SERVICE_GROUP):
        owner = group.name.removeprefix(f"{rendering.stack}-").removesuffix("-sg")
        owner = "alb" if owner == "ingress" else owner
        names[f"${{{group.name}.id}}"] = owner
    return names


def ingress_edges(rendering: Rendering) -> set[tuple[str, str, int]]:
    """(source, target, port) for every ingress rule; CIDR sources as the CIDR."""
    names = group_names(rendering)
    return {
        (
            names.get(
                rule.inputs.get("referencedSecurityGroupId", ""), rule.inputs.get("cidrIpv4")
            ),
            names[rule.inputs["securityGroupId"]],
            rule.inputs["fromPort"],
        )
        for rule in rendering.of_type(INGRESS)
    }


def egress_edges(rendering: Rendering) -> set[tuple[str, str, int]]:
    names = group_names(rendering)
    return {
        (
            names[rule.inputs["securityGroupId"]],
            names.get(
                rule.inputs.get("referencedSecurityGroupId", ""), rule.inputs.get("cidrIpv4")
            ),
            rule.inputs["fromPort"],
        )
        for rule in rendering.of_type(EGRESS)
    }


# Who may open a connection to whom, from the catalog: the ALB to each routed service, each
# caller to each service it calls, always on the callee's container port.
SERVICE_INGRESS = {("alb", name, CATALOG[name].container_port) for name in ROUTED} | {
    (caller, name, spec.container_port)
    for name, spec in CATALOG.items()
    for caller in callers_of(name, CATALOG)
}


def stack_block(stack: str, key: str) -> dict[str, Any]:
    """A `microservices:<key>` block of the stack file; {} where the file leaves it out."""
    return environment_document(stack).get(f"microservices:{key}") or {}


def service_config(stack: str, service: str) -> dict[str, Any]:
    return stack_block(stack, "services").get(service) or {}


def autoscaling_of(stack: str, service: str) -> dict[str, Any] | None:
    return service_config(stack, service).get("autoscaling")


def stack_environment(stack: str) -> str:
    return environment_document(stack).get("microservices:environment", "development")


def traces(stack: str) -> bool:
    """observability.tracing as set, or on in production."""
    configured = stack_block(stack, "observability").get("tracing")
    return stack_environment(stack) == "production" if configured is None else configured


def strategy_of(stack: str, service: str) -> str:
    return (service_config(stack, service).get("deployment") or {}).get("strategy", "rolling")


# What the platform registers beside the services, components included. Pinned, because each
# number is a decision about the platform: when the platform gains or loses a resource on
# purpose, update the number here (the preview's "Resources by type" shows the new count).
# Always: the Platform; network component, VPC and its default group; cluster component,
# cluster and its capacity providers; discovery component and namespace; ingress component,
# ALB, its group and the port-80 listener; alerts component and topic; the dashboard.
PLATFORM_RESOURCES = 16
PLATFORM_FEATURE_RESOURCES: Mapping[tuple[str, str], int] = {
    ("loadBalancer", "certificateArn"): 1,  # the HTTPS listener (ingress rules counted apart)
    ("loadBalancer", "accessLogs"): 7,  # the bucket and its six settings
    ("loadBalancer", "waf"): 7,  # web ACL, three rules, association, log group, logging
    ("logs", "kmsEncryption"): 2,  # the key's component and the key
    ("network", "flowLogs"): 4,  # log group, role, role policy, flow log
}


def expected_platform_resources(stack: str) -> int:
    count = PLATFORM_RESOURCES
    for (block, key), added in PLATFORM_FEATURE_RESOURCES.items():
        if stack_block(stack, block).get(key):
            count += added
    if environment_document(stack).get("microservices:environment") == "production":
        count += 1  # the alert topic's own key
    count += len(stack_block(stack, "alerts").get("emails", []))  # a subscription each
    if traces(stack) and stack_block(stack, "observability").get("manageTransactionSearch", True):
        count += 3  # Transaction Search: its component, the Logs resource policy, the destination
    publishers = [spec for spec in CATALOG.values() if spec.publishes]
    if publishers:
        # The event transport: its component and key; a topic, a relay log group, a relay
        # failure queue and its alarm each.
        count += 2 + 4 * len(publishers)
    balancer = stack_block(stack, "loadBalancer")
    ports = 2 if balancer.get("certificateArn") else 1
    # The ALB's group admits each ingress CIDR on each listener port, one rule each.
    return count + ports * len(balancer.get("ingressCidrs", ["0.0.0.0/0"]))


def expected_service_resources(stack: str, name: str) -> int:
    """What the program registers for a service: its two components and what is under them."""
    spec = CATALOG[name]
    band = autoscaling_of(stack, name)
    # The endpoint component: the group and its HTTPS egress, log group, Cloud Map service.
    # The runtime component: execution role and policy, task role, task definition, ECS
    # service, and the CPU and memory alarms.
    count = 5 + 8
    count += 1 if spec.permissions else 0  # the task role's policy
    if spec.build:
        # The image component: its repository, the repository's lifecycle policy, the build.
        count += 4
    if spec.table:
        # The table component, the table, the task role's policy on it; its key in production.
        count += 3 + (1 if stack_environment(stack) == "production" else 0)
    # The running-task alarm, where Container Insights reports tasks and some must run.
    minimum = band["minCount"] if band else service_config(stack, name).get("desiredCount", 1)
    insights = stack_block(stack, "cluster").get("containerInsights", "enabled")
    count += 1 if insights != "disabled" and minimum > 0 else 0
    # Per caller: the ingress rule on this group and the egress rule on the caller's.
    count += 2 * len(callers_of(name, CATALOG))
    if spec.routes:
        # ALB ingress and egress rules, the target group and the alternate one a release
        # shifts traffic to, one listener rule per route; alarms on 5xx, unhealthy targets
        # and latency.
        count += 4 + len(spec.routes) + 3
    if traces(stack):
        count += 1  # the task role's policy for the trace collector
    if strategy_of(stack, name) != "rolling":
        count += 2  # the role ECS shifts traffic with, and its policy
    if band is not None:
        # The scalable target and CPU policy, and a policy per optional metric.
        count += 2 + ("memoryTarget" in band) + ("requestsPerTarget" in band)
    if spec.publishes:
        # The relay component: its role and policy, function, event source mapping, and the
        # alarm on its iterator age (its failure queue is the platform's).
        count += 1 + 5
    if spec.subscribes:
        # The queue component: the queue, its dead-letter queue, its policy, a subscription per
        # publisher, alarms on the dead-letter queue and the oldest message; the task role's
        # policy on the queue.
        publishers = {p for e in spec.subscribes for p, s in CATALOG.items() if e in s.publishes}
        count += 1 + 3 + len(publishers) + 2 + 1
    return count


def component_resources(rendering: Rendering, name: str) -> list[str]:
    """The names of a service's components and of everything registered under them."""
    inside = {
        r.urn
        for r in rendering.resources
        if r.name == f"{rendering.stack}-{name}" and r.type.startswith("microservices:")
    }
    while True:  # children, then their children
        below = {r.urn for r in rendering.resources if r.parent in inside} - inside
        if not below:
            break
        inside |= below
    return sorted(r.name for r in rendering.resources if r.urn in inside)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resource_counts(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    in_services = 0
    for name in SERVICES:
        registered = component_resources(rendering, name)
        assert len(registered) == expected_service_resources(stack, name), (
            f"{stack}: {name} registers {registered}; if a service's components gained or lost "
            "a resource on purpose, update expected_service_resources"
        )
        in_services += len(registered)
    platform = len(rendering.resources) - in_services
    assert platform == expected_platform_resources(stack), (
        f"{stack}: the platform registers {platform} resources; if that changed on purpose, "
        "update PLATFORM_RESOURCES or PLATFORM_FEATURE_RESOURCES"
    )
    counts = rendering.count_by_type()
    assert counts["aws:ecs/service:Service"] == len(SERVICES)
    assert counts["aws:ecs/taskDefinition:TaskDefinition"] == len(SERVICES)
    assert counts["aws:servicediscovery/service:Service"] == len(SERVICES)
    # Two per service, one more for a service whose releases shift traffic, and the
    # flow-logs delivery role where flow logs are on.
    flow_logs = bool(stack_block(stack, "network").get("flowLogs"))
    shifting = sum(strategy_of(stack, name) != "rolling" for name in SERVICES)
    relays = sum(bool(spec.publishes) for spec in CATALOG.values())
    assert counts["aws:iam/role:Role"] == 2 * len(SERVICES) + shifting + flow_logs + relays
    # A routed service's target group, and the alternate one a release shifts traffic to.
    assert counts.get("aws:lb/targetGroup:TargetGroup", 0) == 2 * len(ROUTED)
    assert counts.get("aws:lb/listenerRule:ListenerRule", 0) == sum(
        len(spec.routes) for spec in CATALOG.values()
    )
    assert counts["awsx:ec2:Vpc"] == 1


def test_resource_names_are_unique(dev: Rendering, prod: Rendering) -> None:
    # The preview's `${name.attribute}` references rely on it.
    for rendering in (dev, prod):
        names = [r.name for r in rendering.resources if r.custom]
        assert len(names) == len(set(names))


@pytest.mark.parametrize("service", SERVICES)
def test_prod_desired_counts(prod: Rendering, service: str) -> None:
    # The committed stack files size every service within its band, so nothing is clamped.
    wanted = service_config("prod", service).get("desiredCount", 1)
    assert ecs_service(prod, service).inputs["desiredCount"] == wanted


def test_dev_runs_one_task_of_each(dev: Rendering) -> None:
    assert [ecs_service(dev, s).inputs["desiredCount"] for s in SERVICES] == [1] * len(SERVICES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_services_run_on_fargate_in_private_subnets(
    stack: str, dev: Rendering, prod: Rendering
) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    vpc = rendering.named(f"{stack}-network-vpc")
    zones = vpc.inputs["numberOfAvailabilityZones"]
    private = [f"${{{vpc.name}.privateSubnetIds[{i}]}}" for i in range(zones)]
    for service in SERVICES:
        inputs = ecs_service(rendering, service).inputs
        assert "launchType" not in inputs
        assert {s["capacityProvider"] for s in inputs["capacityProviderStrategies"]} <= {
            "FARGATE",
            "FARGATE_SPOT",
        }
        network = inputs["networkConfiguration"]
        assert network["assignPublicIp"] is False
        assert network["subnets"] == private
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    for task in rendering.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
        assert task.inputs["networkMode"] == "awsvpc"


def test_capacity_dev_spot_heavy_prod_on_demand(dev: Rendering, prod: Rendering) -> None:
    dev_strategy = ecs_service(dev, "order-service").inputs["capacityProviderStrategies"]
    assert dev_strategy == [
        {"base": 1, "capacityProvider": "FARGATE", "weight": 1},
        {"base": 0, "capacityProvider": "FARGATE_SPOT", "weight": 3},
    ]
    prod_strategy = ecs_service(prod, "order-service").inputs["capacityProviderStrategies"]
    assert prod_strategy == [{"base": 0, "capacityProvider": "FARGATE", "weight": 1}]
    cluster = prod.named("prod-ecs-capacity").inputs
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategies"] == prod_strategy


def test_services_wait_for_the_capacity_providers(prod: Rendering) -> None:
    capacity = prod.named("prod-ecs-capacity")
    for service in SERVICES:
        assert capacity.urn in ecs_service(prod, service).dependencies


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cloud_map_registrations(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    namespace = rendering.named(
        f"{stack}-discovery-namespace",
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
    )
    assert namespace.inputs["name"] == f"{stack}.internal"
    assert namespace.inputs["vpc"] == f"${{{stack}-network-vpc.vpcId}}"
    for service, spec in CATALOG.items():
        discovery = rendering.named(f"{stack}-{service}-discovery")
        assert discovery.inputs["name"] == spec.discovery_name
        assert discovery.inputs["dnsConfig"] == {
            "dnsRecords": [{"ttl": 10, "type": "A"}],
            "namespaceId": f"${{{stack}-discovery-namespace.id}}",
            "routingPolicy": "MULTIVALUE",
        }
        registry = ecs_service(rendering, service).inputs["serviceRegistries"]
        assert registry == {"registryArn": f"${{{discovery.name}.arn}}"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_routed_services_behind_the_alb(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    assert "api-gateway" in ROUTED  # the catch-all route; what the gateway is for
    main_listener = f"{stack}-ingress-https" if stack == "prod" else f"{stack}-ingress-http"
    for service in ROUTED:
        spec = CATALOG[service]
        target_group = rendering.named(f"{stack}-{service}-tg")
        assert target_group.inputs["targetType"] == "ip"
        assert target_group.inputs["port"] == spec.container_port
        assert target_group.inputs["protocol"] == "HTTP"
        inputs = ecs_service(rendering, service).inputs
        attachment = {
            "containerName": spec.container_name,
            "containerPort": spec.container_port,
            "targetGroupArn": f"${{{target_group.name}.arn}}",
        }
        if strategy_of(stack, service) != "rolling":
            # ECS shifts traffic between the two groups by weighting the route's rule.
            (route,) = spec.routes
            attachment["advancedConfiguration"] = {
                "alternateTargetGroupArn": (
                    f"${{{naming.alternate_target_group(f'{stack}-{service}')}.arn}}"
                ),
                "productionListenerRule": f"${{{stack}-{service}-rule-{route.priority}.arn}}",
                "roleArn": f"${{{stack}-{service}-infrastructure-role.arn}}",
            }
        assert inputs["loadBalancers"] == [attachment]
        for route in spec.routes:
            rule = rendering.named(f"{stack}-{service}-rule-{route.priority}")
            assert rule.inputs["listenerArn"] == f"${{{main_listener}.arn}}"
            assert rule.inputs["priority"] == route.priority
            conditions = []
            if route.path_patterns:
                conditions.append({"pathPattern": {"values": list(route.path_patterns)}})
            if route.host_patterns:
                conditions.append({"hostHeader": {"values": list(route.host_patterns)}})
            assert rule.inputs["conditions"] == conditions
            # ECS rejects a target group that no listener forwards to yet.
            assert rule.urn in ecs_service(rendering, service).dependencies
    gateway_rule = rendering.named(f"{stack}-api-gateway-rule-50000")
    assert gateway_rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    for service in set(SERVICES) - set(ROUTED):
        assert "loadBalancers" not in ecs_service(rendering, service).inputs
        assert "healthCheckGracePeriodSeconds" not in ecs_service(rendering, service).inputs


def test_prod_is_https_only_with_tls13(prod: Rendering) -> None:
    listeners = {r.name: r.inputs for r in prod.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {"prod-ingress-https", "prod-ingress-http"}
    https = listeners["prod-ingress-https"]
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificateArn"].startswith("arn:aws:acm:us-east-1:")
    redirect = listeners["prod-ingress-http"]
    assert (redirect["port"], redirect["protocol"]) == (80, "HTTP")
    assert redirect["defaultActions"] == [
        {
            "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"},
            "type": "redirect",
        }
    ]


def test_dev_serves_plain_http(dev: Rendering) -> None:
    listeners = dev.of_type("aws:lb/listener:Listener")
    assert [(r.inputs["port"], r.inputs["protocol"]) for r in listeners] == [(80, "HTTP")]
    assert listeners[0].inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"


def test_alb_safety_by_environment(dev: Rendering, prod: Rendering) -> None:
    dev_alb = dev.named("dev-ingress-alb", "aws:lb/loadBalancer:LoadBalancer")
    prod_alb = prod.named("prod-ingress-alb", "aws:lb/loadBalancer:LoadBalancer")
    for alb in (dev_alb, prod_alb):
        assert alb.inputs["dropInvalidHeaderFields"] is True
        assert alb.inputs["desyncMitigationMode"] == "defensive"
        assert alb.inputs["internal"] is False
    assert dev_alb.inputs["enableDeletionProtection"] is False
    assert "accessLogs" not in dev_alb.inputs
    assert prod_alb.inputs["enableDeletionProtection"] is True
    assert prod_alb.inputs["accessLogs"] == {
        "bucket": "${prod-ingress-logs.bucket}",
        "enabled": True,
    }
    # ELB checks write access to the bucket when access logs are switched on.
    assert prod.named("prod-ingress-logs-policy").urn in prod_alb.dependencies
    # S3 rejects concurrent changes to a new bucket: its settings are applied one after another.
    chain = ["public-access", "ownership", "versioning", "encryption", "lifecycle", "policy"]
    for before, after in itertools.pairwise(chain):
        assert (
            prod.named(f"prod-ingress-logs-{before}").urn
            in prod.named(f"prod-ingress-logs-{after}").dependencies
        )
    lifecycle = prod.named("prod-ingress-logs-lifecycle").inputs["rules"]
    assert [(r["filter"], r["expiration"], r["status"]) for r in lifecycle] == [
        ({"prefix": "AWSLogs/"}, {"days": 365}, "Enabled")
    ]
    assert lifecycle[0]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    versioning = prod.named("prod-ingress-logs-versioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(prod.named("prod-ingress-logs-policy").inputs["policy"])
    allow = policy["Statement"][0]
    assert allow["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert allow["Resource"] == "${prod-ingress-logs.arn}/AWSLogs/${aws.accountId}/*"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_security_group_graph(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    alb_ports = {80, 443} if stack == "prod" else {80}
    public = {("0.0.0.0/0", "alb", port) for port in alb_ports}
    assert ingress_edges(rendering) == SERVICE_INGRESS | public
    # Egress mirrors ingress between groups; services may also reach HTTPS endpoints.
    https_out = {(service, "0.0.0.0/0", 443) for service in SERVICES}
    assert egress_edges(rendering) == SERVICE_INGRESS | https_out


def test_every_group_and_rule_has_a_description(prod: Rendering) -> None:
    for resource in (*prod.of_type(SERVICE_GROUP), *prod.of_type(INGRESS), *prod.of_type(EGRESS)):
        assert resource.inputs.get("description"), resource.name
    default_group = prod.named("prod-network-default-sg")
    assert "ingress" not in default_group.inputs
    assert "egress" not in default_group.inputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_callers_get_callee_urls(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    users = f"http://users.{stack}.internal:8080"
    assert environment_of(container(rendering, "order-service"))["USER_SERVICE_URL"] == users
    # Every service gets exactly its callees' URLs, at their Cloud Map names.
    for service, spec in CATALOG.items():
        environment = environment_of(container(rendering, service))
        urls = {
            key: value
            for key, value in environment.items()
            if key.endswith("_URL") and key != "EVENTS_QUEUE_URL"
        }
        assert urls == {
            CATALOG[callee].url_variable: (
                f"http://{CATALOG[callee].discovery_name}.{stack}.internal:"
                f"{CATALOG[callee].container_port}"
            )
            for callee in spec.calls
        }, service


def test_prod_is_multi_az_with_nat_per_az(dev: Rendering, prod: Rendering) -> None:
    prod_vpc = prod.named("prod-network-vpc").inputs
    dev_vpc = dev.named("dev-network-vpc").inputs
    assert prod_vpc["numberOfAvailabilityZones"] == 3
    assert prod_vpc["natGateways"] == {"strategy": "OnePerAz"}
    assert dev_vpc["numberOfAvailabilityZones"] == 2
    assert dev_vpc["natGateways"] == {"strategy": "Single"}
    for vpc in (prod_vpc, dev_vpc):
        assert vpc["enableDnsHostnames"] is True
        assert vpc["enableDnsSupport"] is True
        # Each AZ's subnets sit in its own /19 block: a public /24 at the start and a private
        # /20 in the second half.
        network = ipaddress.IPv4Network(vpc["cidrBlock"])
        blocks = list(network.subnets(new_prefix=19))[: vpc["numberOfAvailabilityZones"]]
        assert vpc["subnetSpecs"] == [
            {
                "cidrBlocks": [str(next(b.subnets(new_prefix=24))) for b in blocks],
                "cidrMask": 24,
                "type": "Public",
            },
            {
                "cidrBlocks": [str(list(b.subnets(new_prefix=20))[1]) for b in blocks],
                "cidrMask": 20,
                "type": "Private",
            },
        ]


def test_deployment_and_log_settings_by_environment(dev: Rendering, prod: Rendering) -> None:
    for rendering, min_healthy, grace, delay, retention in (
        (dev, 50, 30, 5, 7),
        (prod, 100, 60, 30, 365),
    ):
        gateway = ecs_service(rendering, "api-gateway").inputs
        assert gateway["waitForSteadyState"] is True
        assert gateway["deploymentMinimumHealthyPercent"] == min_healthy
        assert gateway["deploymentMaximumPercent"] == 200
        assert gateway["healthCheckGracePeriodSeconds"] == grace
        target_group = rendering.named(f"{rendering.stack}-api-gateway-tg").inputs
        assert target_group["deregistrationDelay"] == delay
        assert target_group["healthCheck"]["interval"] == 10
        assert target_group["healthCheck"]["healthyThreshold"] == 2
        assert target_group["healthCheck"]["unhealthyThreshold"] == 3
        assert target_group["healthCheck"]["timeout"] == 5
        for log_group in rendering.of_type("aws:cloudwatch/logGroup:LogGroup"):
            assert log_group.inputs["retentionInDays"] == retention


def test_container_insights_on(dev: Rendering, prod: Rendering) -> None:
    for rendering in (dev, prod):
        cluster = rendering.named(f"{rendering.stack}-ecs-cluster", "aws:ecs/cluster:Cluster")
        # The stack file's level (default enabled), never disabled in a committed stack.
        level = stack_block(rendering.stack, "cluster").get("containerInsights", "enabled")
        assert level in ("enabled", "enhanced")
        assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": level}]


def test_outputs(prod: Rendering) -> None:
    outputs = prod.outputs
    assert outputs["albDnsName"] == "${prod-ingress-alb.dnsName}"
    assert outputs["url"] == "https://${prod-ingress-alb.dnsName}"
    assert outputs["clusterName"] == "microservices-prod"
    assert outputs["namespaceName"] == "prod.internal"
    assert outputs["services"]["user-service"] == {
        "dnsName": "users.prod.internal",
        "ecsServiceName": "user-service",
        "maxCount": 6,
        "minCount": 2,
        "url": "http://users.prod.internal:8080",
    }
    assert set(outputs["services"]) == set(CATALOG)
    for name, spec in CATALOG.items():
        dns_name = f"{spec.discovery_name}.prod.internal"
        band = autoscaling_of("prod", name)
        counts = (
            {"minCount": band["minCount"], "maxCount": band["maxCount"]}
            if band is not None
            else {"desiredCount": service_config("prod", name).get("desiredCount", 1)}
        )
        assert outputs["services"][name] == {
            "dnsName": dns_name,
            "ecsServiceName": name,
            "url": f"http://{dns_name}:{spec.container_port}",
            **counts,
        }, name


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:orders/db-AbCdEf"
PARAMETER_ARN = "arn:aws:ssm:us-east-1:111122223333:parameter/orders/api-key"


def test_secrets_reach_the_task_only_through_secrets() -> None:
    rendering = render_with(
        "dev",
        [
            ("services.order-service.secrets.DB_PASSWORD", SECRET_ARN),
            ("services.order-service.secrets.API_KEY", PARAMETER_ARN),
        ],
    )
    application = container(rendering, "order-service")
    assert application["secrets"] == [
        {"name": "API_KEY", "valueFrom": PARAMETER_ARN},
        {"name": "DB_PASSWORD", "valueFrom": SECRET_ARN},
    ]
    assert SECRET_ARN not in json.dumps(application["environment"])
    policy = json.loads(rendering.named("dev-order-service-execution-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadSecrets"]["Resource"] == [SECRET_ARN, SECRET_ARN + "-??????"]
    assert by_sid["ReadParameters"]["Resource"] == [PARAMETER_ARN]
    # The other services' execution roles read no secret: they write logs and, for an image
    # built into a repository of its own, pull it.
    other = json.loads(rendering.named("dev-user-service-execution-policy").inputs["policy"])
    pulls = ["EcrLogin", "PullImage"] if CATALOG["user-service"].build else []
    assert [s["Sid"] for s in other["Statement"]] == ["WriteLogs", *pulls]


def test_existing_vpc() -> None:
    rendering = render_with(
        "dev",
        [
            ("network.vpcId", "vpc-0a1b2c3d4e5f60718"),
            ("network.publicSubnetIds[0]", "subnet-0a000001"),
            ("network.publicSubnetIds[1]", "subnet-0a000002"),
            ("network.privateSubnetIds[0]", "subnet-0b000001"),
            ("network.privateSubnetIds[1]", "subnet-0b000002"),
        ],
    )
    assert not rendering.of_type("awsx:ec2:Vpc")
    # Not ours to change: the existing VPC's default group is left alone.
    assert not rendering.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    alb = rendering.named("dev-ingress-alb", "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["subnets"] == ["subnet-0a000001", "subnet-0a000002"]
    for service in SERVICES:
        network = ecs_service(rendering, service).inputs["networkConfiguration"]
        assert network["subnets"] == ["subnet-0b000001", "subnet-0b000002"]
    assert {g.inputs["vpcId"] for g in rendering.of_type(SERVICE_GROUP)} == {
        "vpc-0a1b2c3d4e5f60718"
    }
    namespace = rendering.named("dev-discovery-namespace")
    assert namespace.inputs["vpc"] == "vpc-0a1b2c3d4e5f60718"


def test_prod_waf_in_front_of_the_alb(dev: Rendering, prod: Rendering) -> None:
    assert not dev.of_type("aws:wafv2/webAcl:WebAcl")
    acl = prod.named("prod-ingress-waf", "aws:wafv2/webAcl:WebAcl")
    assert acl.inputs["scope"] == "REGIONAL"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    assert acl.ignore_changes == ("rules",)  # the rules are separate resources
    rules = {r.inputs["name"]: r.inputs for r in prod.of_type("aws:wafv2/webAclRule:WebAclRule")}
    assert sorted(rules) == [
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    for name, rule in rules.items():
        assert rule["webAclArn"] == "${prod-ingress-waf.arn}"
        assert rule["overrideAction"] == {"none": {}}
        assert rule["statement"] == {
            "managedRuleGroupStatement": {"name": name, "vendorName": "AWS"}
        }
    assert sorted(r["priority"] for r in rules.values()) == [1, 2, 3]
    logging = prod.named("prod-ingress-waf-logging").inputs
    assert logging["resourceArn"] == "${prod-ingress-waf.arn}"
    assert logging["logDestinationConfigs"] == ["${prod-ingress-waf-logs.arn}"]
    assert logging["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "cookie"}},
    ]
    waf_logs = prod.named("prod-ingress-waf-logs").inputs
    # WAF's required prefix, then the project and stack: names are per account and region.
    assert waf_logs["name"] == "aws-waf-logs-microservices-prod"
    assert waf_logs["kmsKeyId"] == "${prod-logs-key.arn}"
    association = prod.named("prod-ingress-waf-association").inputs
    assert association == {
        "resourceArn": "${prod-ingress-alb.arn}",
        "webAclArn": "${prod-ingress-waf.arn}",
    }


def test_prod_vpc_flow_logs(dev: Rendering, prod: Rendering) -> None:
    assert not dev.of_type("aws:ec2/flowLog:FlowLog")
    flow_log = prod.named("prod-network-flow-log").inputs
    assert flow_log == {
        "iamRoleArn": "${prod-network-flow-logs-role.arn}",
        "logDestination": "${prod-network-flow-logs.arn}",
        "logDestinationType": "cloud-watch-logs",
        "maxAggregationInterval": 60,
        "trafficType": "ALL",
        "vpcId": "${prod-network-vpc.vpcId}",
    }
    trust = json.loads(prod.named("prod-network-flow-logs-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "${aws.accountId}"}
    group = prod.named("prod-network-flow-logs").inputs
    assert group["retentionInDays"] == 365
    assert group["kmsKeyId"] == "${prod-logs-key.arn}"


def test_prod_log_groups_use_a_rotating_customer_managed_key(
    dev: Rendering, prod: Rendering
) -> None:
    key = prod.named("prod-logs-key", "aws:kms/key:Key").inputs
    assert key["enableKeyRotation"] is True
    policy = json.loads(key["policy"])
    logs = next(s for s in policy["Statement"] if s["Sid"] == "CloudWatchLogsEncryptsLogGroups")
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": (
            "arn:${aws.partition}:logs:us-east-1:${aws.accountId}:log-group:*"
        )
    }
    groups = prod.of_type("aws:cloudwatch/logGroup:LogGroup")
    publishers = [name for name in SERVICES if CATALOG[name].publishes]
    # One per service and per publisher's relay, flow logs, WAF.
    assert len(groups) == len(SERVICES) + len(publishers) + 2
    assert {g.inputs.get("kmsKeyId") for g in groups} == {"${prod-logs-key.arn}"}
    # Development's only key is the events key: SNS delivers into encrypted queues only under
    # a customer-managed key (docs/events.md).
    assert {k.name for k in dev.of_type("aws:kms/key:Key")} == (
        {"dev-events-key"} if publishers else set()
    )
    assert all("kmsKeyId" not in g.inputs for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup"))


def test_roles_trust_only_this_account(prod: Rendering) -> None:
    for role in prod.of_type("aws:iam/role:Role"):
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        if role.name.endswith("-infrastructure-role"):
            # The role ECS uses to shift load balancer traffic, trusted as AWS documents it.
            assert statement == {
                "Effect": "Allow",
                "Principal": {"Service": "ecs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
            continue
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "${aws.accountId}"}


def test_no_wildcard_actions_in_iam_policies(prod: Rendering) -> None:
    for policy in prod.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert action != "*" and not action.endswith(":*"), (policy.name, action)


def test_secrets_kms_key_lets_the_agent_decrypt() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    rendering = render_with(
        "dev",
        [
            ("services.order-service.secrets.DB_PASSWORD", SECRET_ARN),
            ("services.order-service.secretsKmsKeyArns[0]", key),
        ],
    )
    policy = json.loads(rendering.named("dev-order-service-execution-policy").inputs["policy"])
    decrypt = next(s for s in policy["Statement"] if s["Sid"] == "DecryptSecrets")
    assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", [key])
