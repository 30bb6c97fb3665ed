from services.spec import ServiceSpec

SPEC = ServiceSpec(
    name="user-service",
    discovery_name="users",
    container_name="users",
    health_check_path="/health",
    # Built by `pulumi up` from apps/user-service (uid 10001; the image declares VOLUME /tmp).
    build="apps/user-service",
    user="10001",
    image_prepares_tmp=True,
    table=True,
    # From its table's stream: an insert is user.created, a removal user.deleted.
    publishes=("user.created", "user.deleted"),
)
