"""Reusable ComponentResources, grouped by the architecture's parts: network/, edge/,
compute/ (with ecs_service/), data/ and observability/. None of them reads stack config:
everything comes in as args. The composition layer beside them (platform.py,
platform_reference.py, service_runtime.py) turns validated settings into those args, and is
the only code that imports several parts or config.

Type tokens keep the names of the modules the components were first written in
(`microservices:ecs_service:EcsService`, `microservices:service_image:ServiceImage`, ...): a
token is a name, not a path, and changing one would change every URN under it.
"""
