"""Observability: a service's alarms (alarms.py), the alert topic and dashboard (alerts.py), the
log groups' key (log_key.py), and tracing: the collector sidecar, its permissions and X-Ray's
transaction search (tracing.py).
"""

from components.observability.alarms import (
    EVALUATION_PERIODS,
    PERIOD_SECONDS,
    AlarmDefinition,
    ServiceAlarmArgs,
    ServiceConnectMetricsArgs,
    alarm_definitions,
    watches_service_connect_requests,
)
from components.observability.alerts import (
    AlertTopic,
    AlertTopicArgs,
    DashboardService,
    alarm_topic_key_policy,
    dashboard_body,
)
from components.observability.log_key import (
    LogEncryptionKey,
    LogEncryptionKeyArgs,
    log_key_policy,
)
from components.observability.tracing import (
    BATCH_MAX_SPANS,
    COLLECTOR_CONTAINER,
    COLLECTOR_HEALTH_PORT,
    COLLECTOR_IMAGE,
    COLLECTOR_USER,
    OTLP_HTTP_PORT,
    SAMPLING_READ_ACTIONS,
    TRACE_WRITE_ACTIONS,
    CollectorArgs,
    TransactionSearch,
    TransactionSearchArgs,
    collector_config,
    collector_definition,
    exporter_policy,
    otlp_traces_endpoint,
    tracing_environment,
    transaction_search_policy,
)

__all__ = [
    "BATCH_MAX_SPANS",
    "COLLECTOR_CONTAINER",
    "COLLECTOR_HEALTH_PORT",
    "COLLECTOR_IMAGE",
    "COLLECTOR_USER",
    "EVALUATION_PERIODS",
    "OTLP_HTTP_PORT",
    "PERIOD_SECONDS",
    "SAMPLING_READ_ACTIONS",
    "TRACE_WRITE_ACTIONS",
    "AlarmDefinition",
    "AlertTopic",
    "AlertTopicArgs",
    "CollectorArgs",
    "DashboardService",
    "LogEncryptionKey",
    "LogEncryptionKeyArgs",
    "ServiceAlarmArgs",
    "ServiceConnectMetricsArgs",
    "TransactionSearch",
    "TransactionSearchArgs",
    "alarm_definitions",
    "alarm_topic_key_policy",
    "collector_config",
    "collector_definition",
    "dashboard_body",
    "exporter_policy",
    "log_key_policy",
    "otlp_traces_endpoint",
    "tracing_environment",
    "transaction_search_policy",
    "watches_service_connect_requests",
]
