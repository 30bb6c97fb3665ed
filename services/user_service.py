from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="user-service",
    dns_name="users",
    container_name="users",
)
