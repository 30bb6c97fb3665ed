"""The service catalog: every microservice this program can deploy, by ECS service name.

Each module in this package that defines `SPEC` (a ServiceSpec) is one service, so adding a
service is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil

from services.spec import PermissionSpec, RouteSpec, ServiceSpec


def _discover() -> dict[str, ServiceSpec]:
    catalog: dict[str, ServiceSpec] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        spec = getattr(module, "SPEC", None)
        if spec is None:
            continue
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"{module.__name__}.SPEC is not a ServiceSpec")
        if spec.name in catalog:
            raise ValueError(f"two modules in services/ define the service {spec.name!r}")
        catalog[spec.name] = spec
    return catalog


CATALOG: dict[str, ServiceSpec] = _discover()

__all__ = ["CATALOG", "PermissionSpec", "RouteSpec", "ServiceSpec"]
