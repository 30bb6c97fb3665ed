from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="order-service",
    dns_name="orders",
    container_name="orders",
    calls=("user-service",),
)
