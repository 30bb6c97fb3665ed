"""`dev` and `prod` rendered from their real stack files: what each creates and how they differ."""

from __future__ import annotations

import ipaddress
import itertools
import json

import pytest

from offline.harness import Rendering
from tests.conftest import container, ecs_service, environment_of, render_with

SERVICES = ("user-service", "order-service", "api-gateway")
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


SERVICE_INGRESS = {
    ("alb", "api-gateway", 8080),
    ("api-gateway", "user-service", 8080),
    ("api-gateway", "order-service", 8080),
    ("order-service", "user-service", 8080),
}


def test_resource_counts(dev: Rendering, prod: Rendering) -> None:
    # prod adds: the HTTP->HTTPS redirect listener, 443 ingress, the access-log bucket with its
    # six settings, memory scaling policies for two services, the log key (component and
    # key), VPC flow logs (log group, role, policy, flow log) and WAF (web ACL, three rules,
    # association, log group, logging configuration).
    assert len(dev.resources) == 61
    assert len(prod.resources) == 85
    for rendering in (dev, prod):
        counts = rendering.count_by_type()
        assert counts["aws:ecs/service:Service"] == 3
        assert counts["aws:ecs/taskDefinition:TaskDefinition"] == 3
        assert counts["aws:servicediscovery/service:Service"] == 3
        # Two per service, and in prod the flow-logs delivery role.
        assert counts["aws:iam/role:Role"] == (7 if rendering is prod else 6)
        assert counts["aws:lb/targetGroup:TargetGroup"] == 1
        assert counts["aws:lb/listenerRule:ListenerRule"] == 1
        assert counts["awsx:ec2:Vpc"] == 1


def test_resource_names_are_unique(dev: Rendering, prod: Rendering) -> None:
    # The preview's `${name.attribute}` references rely on it.
    for rendering in (dev, prod):
        names = [r.name for r in rendering.resources if r.custom]
        assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("service", "desired"), [("user-service", 2), ("order-service", 3), ("api-gateway", 2)]
)
def test_prod_desired_counts(prod: Rendering, service: str, desired: int) -> None:
    assert ecs_service(prod, service).inputs["desiredCount"] == desired


def test_dev_runs_one_task_of_each(dev: Rendering) -> None:
    assert [ecs_service(dev, s).inputs["desiredCount"] for s in SERVICES] == [1, 1, 1]


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
    for service, dns in (("user-service", "users"), ("order-service", "orders")):
        discovery = rendering.named(f"{stack}-{service}-discovery")
        assert discovery.inputs["name"] == dns
        assert discovery.inputs["dnsConfig"] == {
            "dnsRecords": [{"ttl": 10, "type": "A"}],
            "namespaceId": f"${{{stack}-discovery-namespace.id}}",
            "routingPolicy": "MULTIVALUE",
        }
        registry = ecs_service(rendering, service).inputs["serviceRegistries"]
        assert registry == {"registryArn": f"${{{discovery.name}.arn}}"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gateway_behind_the_alb(stack: str, dev: Rendering, prod: Rendering) -> None:
    rendering = {"dev": dev, "prod": prod}[stack]
    target_group = rendering.named(f"{stack}-api-gateway-tg")
    assert target_group.inputs["targetType"] == "ip"
    assert target_group.inputs["port"] == 8080
    assert target_group.inputs["protocol"] == "HTTP"
    gateway = ecs_service(rendering, "api-gateway").inputs
    assert gateway["loadBalancers"] == [
        {
            "containerName": "gateway",
            "containerPort": 8080,
            "targetGroupArn": f"${{{target_group.name}.arn}}",
        }
    ]
    rule = rendering.named(f"{stack}-api-gateway-rule-50000")
    main_listener = f"{stack}-ingress-https" if stack == "prod" else f"{stack}-ingress-http"
    assert rule.inputs["listenerArn"] == f"${{{main_listener}.arn}}"
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    # ECS rejects a target group that no listener forwards to yet.
    assert rule.urn in ecs_service(rendering, "api-gateway").dependencies
    for service in ("user-service", "order-service"):
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
    orders = f"http://orders.{stack}.internal:8080"
    assert environment_of(container(rendering, "order-service"))["USER_SERVICE_URL"] == users
    gateway = environment_of(container(rendering, "api-gateway"))
    assert (gateway["USER_SERVICE_URL"], gateway["ORDER_SERVICE_URL"]) == (users, orders)
    assert not any(k.endswith("_URL") for k in environment_of(container(rendering, "user-service")))


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
        assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


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
    # The other services' execution roles read nothing.
    other = json.loads(rendering.named("dev-user-service-execution-policy").inputs["policy"])
    assert [s["Sid"] for s in other["Statement"]] == ["WriteLogs"]


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
    assert len(groups) == 5  # three services, flow logs, WAF
    assert {g.inputs.get("kmsKeyId") for g in groups} == {"${prod-logs-key.arn}"}
    assert not dev.of_type("aws:kms/key:Key")
    assert all("kmsKeyId" not in g.inputs for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup"))


def test_roles_trust_only_this_account(prod: Rendering) -> None:
    for role in prod.of_type("aws:iam/role:Role"):
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
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
