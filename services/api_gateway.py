from services.spec import RouteSpec, ServiceSpec

SPEC = ServiceSpec(
    name="api-gateway",
    discovery_name="gateway",
    container_name="gateway",
    # The catch-all route: the highest priority number, so any more specific rule wins.
    routes=(RouteSpec(priority=50000, path_patterns=("/*",)),),
    calls=("user-service", "order-service"),
    health_check_path="/health",
    build="apps/api-gateway",
    user="10001",
    image_prepares_tmp=True,
    # Each downstream fails alone, after its own timeout.
    environment={"USER_SERVICE_TIMEOUT_SECONDS": "3", "ORDER_SERVICE_TIMEOUT_SECONDS": "3"},
)
