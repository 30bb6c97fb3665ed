from services.spec import RouteSpec, ServiceSpec

SPEC = ServiceSpec(
    name="api-gateway",
    discovery_name="gateway",
    container_name="gateway",
    # The catch-all route: the highest priority number, so any more specific rule wins.
    routes=(RouteSpec(priority=50000, path_patterns=("/*",)),),
    calls=("user-service", "order-service"),
)
