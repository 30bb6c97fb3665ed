"""How physical names derive from the stack and service names.

One place, because the config validator must know the names the components will create to
check them against AWS's length limits before anything is registered.
"""

# Pulumi auto-naming appends "-" and 7 random hex characters to a logical name.
AUTONAME_SUFFIX_LENGTH = 8
# ALB and target group names: at most 32 characters, alphanumerics and hyphens.
AWS_LB_NAME_MAX = 32


def service_component(platform: str, service: str) -> str:
    return f"{platform}-{service}"


def load_balancer_component(platform: str) -> str:
    return f"{platform}-alb"


def target_group(component: str) -> str:
    return f"{component}-tg"


def fits_lb_name_limit(logical_name: str) -> bool:
    """Whether an auto-named ALB or target group stays within AWS's 32-character limit."""
    return len(logical_name) + AUTONAME_SUFFIX_LENGTH <= AWS_LB_NAME_MAX
