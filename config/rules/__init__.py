"""Rules over parsed config blocks: AWS's limits, cross-field safety, and warnings.

Each rule adds to a Findings: an error for what AWS would reject or what would make a deploy
unsafe, a warning for what is valid but surprising. Every message says what is allowed and
why, and every finding carries the command that fixes it.

One module per topic, as the schema's blocks go: service.py (one service's config),
cluster.py (cluster, deployment, draining, architecture capacity), network.py, discovery.py
(namespace, Service Connect), edge.py (load balancer, certificate), observability.py (alerts,
logs, collector room), catalog.py (the catalog and the stack as a whole), events.py (the
catalog's publishes and subscribes), production.py;
common.py holds what several share. Every check_* is re-exported here, so `rules.check_x`
holds for config/loader.py.
"""

from config.rules.catalog import (
    PROJECT_ROOT,
    check_catalog,
    is_app,
)
from config.rules.cluster import (
    check_architecture_capacity,
    check_cluster,
    check_deployment,
    check_draining,
)
from config.rules.common import (
    CERTIFICATE_FIX,
    QUOTA_NOTE,
    SECRET_FIX,
)
from config.rules.discovery import (
    SERVICE_CONNECT_ALIAS_MAX,
    check_discovery,
    check_namespace,
)
from config.rules.edge import (
    check_certificate,
    check_load_balancer,
)
from config.rules.events import check_events
from config.rules.network import (
    check_network,
    check_other_stacks,
)
from config.rules.observability import (
    EMAIL,
    check_alerts,
    check_collector_room,
    check_logs,
)
from config.rules.production import (
    check_production,
    note_teardown,
)
from config.rules.service import (
    ALARM_WINDOW_MINUTES,
    check_service,
)

__all__ = [
    "ALARM_WINDOW_MINUTES",
    "CERTIFICATE_FIX",
    "EMAIL",
    "PROJECT_ROOT",
    "QUOTA_NOTE",
    "SECRET_FIX",
    "SERVICE_CONNECT_ALIAS_MAX",
    "check_alerts",
    "check_architecture_capacity",
    "check_catalog",
    "check_certificate",
    "check_cluster",
    "check_collector_room",
    "check_deployment",
    "check_discovery",
    "check_draining",
    "check_events",
    "check_load_balancer",
    "check_logs",
    "check_namespace",
    "check_network",
    "check_other_stacks",
    "check_production",
    "check_service",
    "is_app",
    "note_teardown",
]
