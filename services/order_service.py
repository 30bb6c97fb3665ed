from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="order-service",
    discovery_name="orders",
    container_name="orders",
    calls=("user-service",),
)
