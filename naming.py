"""How logical and physical names derive from the project, stack and service names.

One place, because the config validator must know the names the components will create to
check them against AWS's limits before anything is registered.
"""

# Pulumi auto-naming appends "-" and 7 random hex characters to a logical name.
AUTONAME_SUFFIX_LENGTH = 8
# ALB and target group names: at most 32 characters, alphanumerics and hyphens.
AWS_LB_NAME_MAX = 32


def platform(stack: str) -> str:
    """The Platform component's name; every other name starts with it."""
    return stack


def network_component(platform_name: str) -> str:
    return f"{platform_name}-network"


def cluster_component(platform_name: str) -> str:
    return f"{platform_name}-ecs"


def namespace_component(platform_name: str) -> str:
    return f"{platform_name}-discovery"


def log_key_component(platform_name: str) -> str:
    return f"{platform_name}-logs"


def load_balancer_component(platform_name: str) -> str:
    return f"{platform_name}-ingress"


def alerts_component(platform_name: str) -> str:
    return f"{platform_name}-alerts"


def service_component(platform_name: str, service: str) -> str:
    return f"{platform_name}-{service}"


def load_balancer(component: str) -> str:
    """The ALB inside a LoadBalancer component."""
    return f"{component}-alb"


def target_group(component: str) -> str:
    """A routed service's target group inside its EcsService component."""
    return f"{component}-tg"


def alternate_target_group(component: str) -> str:
    """The second target group a traffic-shifting release moves traffic to (short: target
    group names are limited to 32 characters with Pulumi's suffix)."""
    return f"{component}-alt"


# A Service Connect service's Cloud Map name: the service's own DNS name stays taken by its
# Cloud Map DNS service, kept in both discovery modes, and names are unique in a namespace.
SERVICE_CONNECT_NAME_SUFFIX = "-sc"


def service_connect_discovery_name(discovery_name: str) -> str:
    """The name ECS gives the service's Cloud Map service under Service Connect. Callers never
    see it: they reach the service at its client alias, `<discovery name>.<namespace>`."""
    return f"{discovery_name}{SERVICE_CONNECT_NAME_SUFFIX}"


def cluster_name(project: str, stack: str) -> str:
    """The ECS cluster's physical name."""
    return f"{project}-{stack}"


def log_group(project: str, stack: str, service: str) -> str:
    """A service's CloudWatch log group."""
    return f"/ecs/{project}-{stack}/{service}"


def fits_lb_name_limit(logical_name: str) -> bool:
    """Whether an auto-named ALB or target group stays within AWS's 32-character limit."""
    return len(logical_name) + AUTONAME_SUFFIX_LENGTH <= AWS_LB_NAME_MAX


def task_family(project: str, stack: str, service: str) -> str:
    """A service's task definition family: families are per account and region, so the name
    carries the project and the stack."""
    return f"{project}-{stack}-{service}"


def waf_log_group(project: str, stack: str) -> str:
    """The WAF's log group: WAF writes only to log groups named `aws-waf-logs-*`, and log group
    names are per account and region."""
    return f"aws-waf-logs-{project}-{stack}"


def alarm_prefix(project: str, stack: str, service: str) -> str:
    """A service's CloudWatch alarm names start with this: names are per account and region."""
    return f"{project}-{stack}-{service}"


def dashboard(project: str, stack: str) -> str:
    """The environment's CloudWatch dashboard: names are per account."""
    return f"{project}-{stack}"


def tracing_component(platform_name: str) -> str:
    return f"{platform_name}-tracing"


def transaction_search_policy(project: str, stack: str) -> str:
    """The Logs resource policy letting X-Ray write spans: names are per account and region."""
    return f"{project}-{stack}-transaction-search"


def events_component(platform_name: str) -> str:
    """The platform's event transport: the events key and one topic per publisher."""
    return f"{platform_name}-events"


def events_topic(project: str, stack: str, publisher: str) -> str:
    """A publisher's SNS FIFO topic: topic names are per account and region."""
    return f"{project}-{stack}-{publisher}-events.fifo"


def events_queue(project: str, stack: str, subscriber: str) -> str:
    """A subscriber's SQS FIFO queue: queue names are per account and region."""
    return f"{project}-{stack}-{subscriber}-events.fifo"


def events_dead_letter_queue(project: str, stack: str, subscriber: str) -> str:
    """Where a subscriber's queue moves a message it failed to process (a FIFO queue's
    dead-letter queue is FIFO too)."""
    return f"{project}-{stack}-{subscriber}-events-dlq.fifo"


def relay_function(project: str, stack: str, publisher: str) -> str:
    """The Lambda function that relays a publisher's table stream to its topic."""
    return f"{project}-{stack}-{publisher}-relay"


def relay_log_group(project: str, stack: str, publisher: str) -> str:
    """The relay's log group: the name Lambda logs to by default (`/aws/lambda/<function>`),
    created by the platform with the environment's retention and key."""
    return f"/aws/lambda/{relay_function(project, stack, publisher)}"


def relay_failure_queue(project: str, stack: str, publisher: str) -> str:
    """Where the relay's event source mapping reports the batches it gave up on."""
    return f"{project}-{stack}-{publisher}-relay-failures"
