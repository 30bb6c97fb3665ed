"""Stack config -> typed, validated settings.

Everything the program reads from `Pulumi.<stack>.yaml` goes through this package. It knows
nothing of resources: it checks the config against the schema and AWS's limits, merges each
service's config over its spec from `services/`, and returns plain frozen data. Every problem
in a config is reported at once, each naming its key path, the bad value, what is allowed and
the `pulumi config set --path` command that fixes it.

  schema      the pydantic models, one per block
  limits      AWS facts the rules enforce, with their sources
  rules       cross-field rules, AWS limits, warnings
  translate   pydantic's errors in the project's wording
  settings    the validated result (StackSettings, ServiceSettings)
  loader      load_settings()
  stack_input read_stack_config(): the running stack's config and its stack files
  routes      which listener rules another rule shadows
  contract    what a platform stack exports for its service stacks
"""

from config.calls import callers_first
from config.contract import CONTRACT_OUTPUT, CONTRACT_VERSION, VERSION_OUTPUT, PlatformContract
from config.issues import ConfigError, ConfigIssue
from config.limits import (
    FARGATE_MEMORY_BY_CPU,
    LOG_RETENTION_DAYS,
    PRIVATE_SUBNET_PREFIX,
    PUBLIC_SUBNET_PREFIX,
)
from config.loader import load_settings, service_stack_reference
from config.settings import ServiceSettings, StackSettings
from config.stack_input import PROJECT, OtherStack, StackInput, read_stack_config

__all__ = [
    "CONTRACT_OUTPUT",
    "CONTRACT_VERSION",
    "FARGATE_MEMORY_BY_CPU",
    "LOG_RETENTION_DAYS",
    "PRIVATE_SUBNET_PREFIX",
    "PROJECT",
    "PUBLIC_SUBNET_PREFIX",
    "VERSION_OUTPUT",
    "ConfigError",
    "ConfigIssue",
    "OtherStack",
    "PlatformContract",
    "ServiceSettings",
    "StackInput",
    "StackSettings",
    "callers_first",
    "load_settings",
    "read_stack_config",
    "service_stack_reference",
]
