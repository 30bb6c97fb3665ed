"""Each component alone, built from typed args under the recording mocks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.compute.cluster import CapacityProviderShare, EcsCluster, EcsClusterArgs
from components.compute.ecs_service import (
    AutoscalingArgs,
    ContainerArgs,
    EcsService,
    EcsServiceArgs,
    TargetGroupArgs,
)
from components.edge.endpoint import (
    ListenerRoutesArgs,
    LogGroupArgs,
    RouteArgs,
    ServiceDiscoveryArgs,
    ServiceEndpoint,
    ServiceEndpointArgs,
)
from components.edge.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network.namespace import ServiceNamespace, ServiceNamespaceArgs
from components.network.network import ExistingVpcArgs, Network, NetworkArgs
from offline.render.harness import Rendering, run_program
from offline.render.stackfile import StackConfig

TEST_STACK = StackConfig(project="test", stack="test", config={}, secret_keys=())


def build(program: Callable[[], object]) -> Rendering:
    def run() -> None:
        program()

    return run_program(run, TEST_STACK)


def service_args(**overrides: object) -> EcsServiceArgs:
    arguments: dict = {
        "service_name": "orders",
        "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
        "cluster_name": "c",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_id": "sg-orders",
        "container_name": "orders",
        "container_port": 9000,
        "region": "us-east-1",
        "container": ContainerArgs(
            image="nginx:1.29",
            cpu=256,
            memory=512,
            log_group_name="/ecs/svc",
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/ecs/svc",
        ),
    }
    arguments.update(overrides)
    return EcsServiceArgs(**arguments)


def endpoint_args(**overrides: object) -> ServiceEndpointArgs:
    arguments: dict = {
        "service_name": "orders",
        "vpc_id": "vpc-1",
        "container_port": 9000,
        "log_group": LogGroupArgs(name="/ecs/svc", retention_days=7),
    }
    arguments.update(overrides)
    return ServiceEndpointArgs(**arguments)


# --- Network ---------------------------------------------------------------------------------


def test_network_creates_a_vpc_and_empties_the_default_group() -> None:
    rendering = build(
        lambda: Network(
            "net",
            NetworkArgs(cidr_block="10.9.0.0/16", availability_zones=3, nat_gateway_per_az=True),
        )
    )
    vpc = rendering.named("net-vpc", "awsx:ec2:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.9.0.0/16"
    assert vpc.inputs["numberOfAvailabilityZones"] == 3
    assert vpc.inputs["natGateways"] == {"strategy": "OnePerAz"}
    assert vpc.inputs["subnetStrategy"] == "Auto"
    assert [s["type"] for s in vpc.inputs["subnetSpecs"]] == ["Public", "Private"]
    default_group = rendering.named("net-default-sg")
    assert default_group.inputs["vpcId"] == "${net-vpc.vpcId}"
    assert "ingress" not in default_group.inputs and "egress" not in default_group.inputs
    assert vpc.parent == rendering.named("net", "microservices:network:Network").urn


def test_network_with_an_existing_vpc_creates_nothing() -> None:
    existing = ExistingVpcArgs(
        vpc_id="vpc-1", public_subnet_ids=["p1", "p2"], private_subnet_ids=["q1", "q2"]
    )
    rendering = build(lambda: Network("net", NetworkArgs(existing=existing)))
    assert [r.type for r in rendering.resources] == ["microservices:network:Network"]


# --- EcsCluster ------------------------------------------------------------------------------


def test_cluster_with_insights_and_default_strategy() -> None:
    strategy = (
        CapacityProviderShare(provider="FARGATE", weight=1, base=2),
        CapacityProviderShare(provider="FARGATE_SPOT", weight=4),
    )
    rendering = build(
        lambda: EcsCluster(
            "c",
            EcsClusterArgs(
                cluster_name="c1", container_insights="enhanced", default_strategy=strategy
            ),
        )
    )
    cluster = rendering.named("c-cluster", "aws:ecs/cluster:Cluster")
    assert cluster.inputs["name"] == "c1"
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    capacity = rendering.named("c-capacity").inputs
    assert capacity["clusterName"] == "c1"
    assert capacity["defaultCapacityProviderStrategies"] == [
        {"base": 2, "capacityProvider": "FARGATE", "weight": 1},
        {"base": 0, "capacityProvider": "FARGATE_SPOT", "weight": 4},
    ]


# --- ServiceNamespace ------------------------------------------------------------------------


def test_namespace_is_private_dns_in_the_vpc() -> None:
    rendering = build(
        lambda: ServiceNamespace("ns", ServiceNamespaceArgs(namespace="x.internal", vpc_id="vpc-1"))
    )
    namespace = rendering.named(
        "ns-namespace", "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
    )
    assert namespace.inputs["name"] == "x.internal"
    assert namespace.inputs["vpc"] == "vpc-1"


# --- LoadBalancer ----------------------------------------------------------------------------


def test_http_load_balancer() -> None:
    rendering = build(
        lambda: LoadBalancer(
            "lb",
            LoadBalancerArgs(
                vpc_id="vpc-1", subnet_ids=["p1", "p2"], ingress_cidrs=("10.0.0.0/8", "1.2.3.4/32")
            ),
        )
    )
    ingress = rendering.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted((r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in ingress) == [
        ("1.2.3.4/32", 80),
        ("10.0.0.0/8", 80),
    ]
    (listener,) = rendering.of_type("aws:lb/listener:Listener")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    alb = rendering.named("lb-alb", "aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["subnets"] == ["p1", "p2"]
    assert alb["securityGroups"] == ["${lb-sg.id}"]
    assert not rendering.of_type("aws:s3/bucket:Bucket")


def test_https_load_balancer_with_access_logs() -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    rendering = build(
        lambda: LoadBalancer(
            "lb",
            LoadBalancerArgs(
                vpc_id="vpc-1",
                subnet_ids=["p1", "p2"],
                certificate_arn=certificate,
                deletion_protection=True,
                access_logs=True,
                account_id="123456789012",
            ),
        )
    )
    listeners = {r.name: r.inputs for r in rendering.of_type("aws:lb/listener:Listener")}
    assert listeners["lb-https"]["certificateArn"] == certificate
    assert listeners["lb-https"]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners["lb-http"]["defaultActions"][0]["type"] == "redirect"
    ports = sorted(
        r.inputs["fromPort"]
        for r in rendering.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    )
    assert ports == [80, 443]
    assert rendering.named("lb-logs-public-access").inputs == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "bucket": "${lb-logs.id}",
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    encryption = rendering.named("lb-logs-encryption").inputs["rules"]
    assert encryption == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    policy = json.loads(rendering.named("lb-logs-policy").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == "${lb-logs.arn}/AWSLogs/123456789012/*"
    assert policy["Statement"][1]["Effect"] == "Deny"
    assert policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_access_logs_need_the_account() -> None:
    rendering = run_program(
        lambda: LoadBalancer(
            "lb", LoadBalancerArgs(vpc_id="v", subnet_ids=["a", "b"], access_logs=True)
        ),
        TEST_STACK,
        check=False,
    )
    assert "account_id is required with access_logs" in str(rendering.error)


# --- ServiceEndpoint and EcsService -------------------------------------------------------------


def test_minimal_endpoint_admits_no_one_and_logs_to_its_group() -> None:
    rendering = build(lambda: ServiceEndpoint("svc", endpoint_args()))
    # No one calls it and it is not routed: its group admits nothing.
    assert not rendering.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    (egress,) = rendering.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["cidrIpv4"], egress.inputs["fromPort"]) == ("0.0.0.0/0", 443)
    logs = rendering.named("svc-logs")
    assert (logs.inputs["name"], logs.inputs["retentionInDays"]) == ("/ecs/svc", 7)
    assert logs.delete_before_replace is True
    assert not rendering.of_type("aws:servicediscovery/service:Service")
    assert not rendering.of_type("aws:lb/targetGroup:TargetGroup")


def test_minimal_service_is_private_and_runs_in_the_endpoints_group() -> None:
    rendering = build(lambda: EcsService("svc", service_args()))
    service = rendering.named("svc-ecs", "aws:ecs/service:Service")
    assert service.inputs["name"] == "orders"
    assert service.inputs["networkConfiguration"] == {
        "assignPublicIp": False,
        "securityGroups": ["sg-orders"],
        "subnets": ["subnet-a", "subnet-b"],
    }
    assert service.ignore_changes == ()
    assert service.delete_before_replace is True
    assert "loadBalancers" not in service.inputs
    assert "serviceRegistries" not in service.inputs
    # How the service is reached is its endpoint's: none of it here.
    assert not rendering.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert not rendering.of_type("aws:cloudwatch/logGroup:LogGroup")
    roles = rendering.of_type("aws:iam/role:Role")
    assert sorted(r.name for r in roles) == ["svc-execution-role", "svc-task-role"]
    task = rendering.named("svc-task").inputs
    assert task["executionRoleArn"] == "${svc-execution-role.arn}"
    assert task["taskRoleArn"] == "${svc-task-role.arn}"
    assert task["volumes"] == [{"name": "tmp"}]
    # No user is set (the image's own), so no /tmp preparation is needed.
    (container,) = json.loads(task["containerDefinitions"])
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/svc"
    policy = json.loads(rendering.named("svc-execution-policy").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/svc:*"
    )


def test_callers_are_admitted_on_the_container_port_only() -> None:
    rendering = build(
        lambda: ServiceEndpoint("svc", endpoint_args(callers={"gateway": "sg-gw", "batch": "sg-b"}))
    )
    ingress = rendering.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted(
        (r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"], r.inputs["toPort"])
        for r in ingress
    ) == [("sg-b", 9000, 9000), ("sg-gw", 9000, 9000)]
    assert all(r.inputs["securityGroupId"] == "${svc-sg.id}" for r in ingress)
    egress = {
        r.inputs["securityGroupId"]: r.inputs
        for r in rendering.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    }
    assert egress["sg-gw"]["referencedSecurityGroupId"] == "${svc-sg.id}"
    assert egress["${svc-sg.id}"]["cidrIpv4"] == "0.0.0.0/0"
    assert egress["${svc-sg.id}"]["fromPort"] == 443


def test_routed_service_gets_target_group_rules_and_grace_period() -> None:
    listener = ListenerRoutesArgs(
        security_group_id="sg-alb",
        listener_arn="arn:listener",
        routes=(
            RouteArgs(priority=10, path_patterns=("/orders/*",)),
            RouteArgs(priority=20, host_patterns=("orders.example.com",)),
        ),
        deregistration_delay=15,
    )

    def program() -> None:
        endpoint = ServiceEndpoint("svc", endpoint_args(listener=listener))
        assert endpoint.target_group_arn is not None
        EcsService(
            "svc",
            service_args(
                security_group_id=endpoint.security_group_id,
                target_group=TargetGroupArgs(
                    target_group_arn=endpoint.target_group_arn,
                    load_balancer_arn_suffix="app/lb/1",
                    target_group_arn_suffix=endpoint.target_group_arn_suffix,
                ),
                autoscaling=AutoscalingArgs(min_count=1, max_count=5, requests_per_target=200),
            ),
        )

    rendering = build(program)
    target_group = rendering.named("svc-tg").inputs
    assert target_group["targetType"] == "ip"
    assert target_group["port"] == 9000
    assert target_group["deregistrationDelay"] == 15
    rules = {r.inputs["priority"]: r for r in rendering.of_type("aws:lb/listenerRule:ListenerRule")}
    assert rules[10].inputs["conditions"] == [{"pathPattern": {"values": ["/orders/*"]}}]
    assert rules[20].inputs["conditions"] == [{"hostHeader": {"values": ["orders.example.com"]}}]
    service = rendering.named("svc-ecs", "aws:ecs/service:Service")
    assert service.inputs["healthCheckGracePeriodSeconds"] == 60
    # ECS refuses a target group that no listener forwards to yet: the ARN waits for the rules.
    assert {rules[10].urn, rules[20].urn} <= set(service.dependencies)
    assert service.ignore_changes == ("desiredCount",)
    requests = rendering.named("svc-requests-scaling").inputs
    label = requests["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"]
    assert label["resourceLabel"] == "app/lb/1/${svc-tg.arnSuffix}"
    ingress = rendering.named("svc-from-alb").inputs
    assert (ingress["referencedSecurityGroupId"], ingress["fromPort"]) == ("sg-alb", 9000)


def test_existing_target_group_is_used_as_given() -> None:
    target_group = TargetGroupArgs(target_group_arn="arn:tg")
    rendering = build(lambda: EcsService("svc", service_args(target_group=target_group)))
    assert not rendering.of_type("aws:lb/targetGroup:TargetGroup")
    assert not rendering.of_type("aws:lb/listenerRule:ListenerRule")
    service = rendering.named("svc-ecs", "aws:ecs/service:Service").inputs
    assert service["loadBalancers"][0]["targetGroupArn"] == "arn:tg"


def test_existing_task_definition_skips_roles() -> None:
    rendering = build(
        lambda: EcsService("svc", service_args(container=None, task_definition_arn="arn:td:3"))
    )
    assert not rendering.of_type("aws:iam/role:Role")
    assert not rendering.of_type("aws:ecs/taskDefinition:TaskDefinition")
    assert (
        rendering.named("svc-ecs", "aws:ecs/service:Service").inputs["taskDefinition"] == "arn:td:3"
    )


def test_service_discovery_registration() -> None:
    discovery = ServiceDiscoveryArgs(namespace_id="ns-1", dns_name="orders", ttl=30)

    def program() -> None:
        endpoint = ServiceEndpoint("svc", endpoint_args(service_discovery=discovery))
        EcsService("svc", service_args(discovery_service_arn=endpoint.discovery_service_arn))

    rendering = build(program)
    registry = rendering.named("svc-discovery")
    assert registry.inputs["name"] == "orders"
    assert registry.inputs["dnsConfig"]["dnsRecords"] == [{"ttl": 30, "type": "A"}]
    assert registry.inputs["healthCheckCustomConfig"] == {"failureThreshold": 1}
    assert registry.delete_before_replace is True
    service = rendering.named("svc-ecs", "aws:ecs/service:Service").inputs
    assert service["serviceRegistries"] == {"registryArn": "${svc-discovery.arn}"}


@pytest.mark.parametrize(
    ("build_args", "message"),
    [
        (lambda: service_args(container=None), "exactly one of container, task_definition_arn"),
        (
            lambda: service_args(
                autoscaling=AutoscalingArgs(min_count=1, max_count=2, requests_per_target=5),
                target_group=TargetGroupArgs(target_group_arn="arn:tg"),
            ),
            "needs target_group with both ARN suffixes",
        ),
        (
            lambda: ListenerRoutesArgs(security_group_id="sg", listener_arn="l", routes=()),
            "needs at least one route",
        ),
    ],
)
def test_args_reject_incomplete_combinations(
    build_args: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_args()


def test_url_uses_the_domain_name_when_given() -> None:
    urls: list[object] = []

    def program() -> None:
        balancer = LoadBalancer(
            "lb",
            LoadBalancerArgs(
                vpc_id="v",
                subnet_ids=["a", "b"],
                certificate_arn="arn:aws:acm:us-east-1:111122223333:certificate/x",
                domain_name="api.example.org",
            ),
        )
        balancer.url.apply(urls.append)

    build(program)
    assert urls == ["https://api.example.org"]


def test_task_role_gets_only_what_the_spec_grants() -> None:
    without = build(lambda: EcsService("svc", service_args()))
    assert not [r for r in without.of_type("aws:iam/rolePolicy:RolePolicy") if "task" in r.name]
    permissions = ({"actions": ("s3:GetObject",), "resources": ("arn:aws:s3:::orders-exports/*",)},)
    rendering = build(lambda: EcsService("svc", service_args(task_permissions=permissions)))
    policy = rendering.named("svc-task-policy").inputs
    assert policy["role"] == "${svc-task-role.id}"
    assert json.loads(policy["policy"])["Statement"] == [
        {
            "Sid": "Application1",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::orders-exports/*"],
        }
    ]
