from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="user-service",
    discovery_name="users",
    container_name="users",
)
