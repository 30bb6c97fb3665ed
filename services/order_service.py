from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="order-service",
    discovery_name="orders",
    container_name="orders",
    calls=("user-service",),
    health_check_path="/health",
    build="apps/order-service",
    user="10001",
    image_prepares_tmp=True,
    table=True,
    # Its own view of the users it takes orders for (docs/events.md).
    subscribes=("user.created", "user.deleted"),
    # A user lookup that takes longer fails the order with 503 and Retry-After.
    environment={"USER_SERVICE_TIMEOUT_SECONDS": "2"},
)
