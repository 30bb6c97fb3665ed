"""The service catalog: every microservice this program can deploy, by ECS service name.

Adding a service is one new module here and one line in CATALOG.
"""

from services import api_gateway, order_service, user_service
from services.spec import RouteSpec, ServiceSpec

CATALOG: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (user_service.SPEC, order_service.SPEC, api_gateway.SPEC)
}

__all__ = ["CATALOG", "RouteSpec", "ServiceSpec"]
