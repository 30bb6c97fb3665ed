"""Run the real program under the Pulumi SDK's mock runtime and record what it registers.

No AWS account or Pulumi CLI is needed. The runtime runs in preview mode, and values that
exist only after a deploy (ids, ARNs, generated names) are returned as references of the form
`${<resource name>.<attribute>}`, never as made-up values, so the recording shows exactly how
resources are wired to each other.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import runpy
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import SETTINGS, get_root_resource, set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from offline.render.stackfile import (
    PROJECT_DIR,
    SECRET_PLACEHOLDER,
    StackConfig,
    StackFileError,
    load_stack_config,
)

UNKNOWN = "(unknown until deploy)"
PLATFORM_KEY = "platform"
"""The config key that makes a stack a service stack of `<org>/<project>/<stack>`."""
STACK_TYPE = "pulumi:pulumi:Stack"


def reference(resource_name: str, attribute: str) -> str:
    """The placeholder for a value known only after deploy."""
    return f"${{{resource_name}.{attribute}}}"


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


# Outputs, beyond `id`, `arn` and a generated `name`, that other resources read.
_COMPUTED: Mapping[str, tuple[str, ...]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("arnSuffix", "dnsName", "zoneId"),
    "aws:lb/targetGroup:TargetGroup": ("arnSuffix",),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": ("hostedZone",),
    "aws:sqs/queue:Queue": ("url",),
    "aws:dynamodb/table:Table": ("streamArn",),
}


@dataclass(frozen=True, kw_only=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    """URN of the parent; None for children of the stack."""
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...] = ()
    """URNs this resource waits for: explicit `depends_on` and the resources its inputs read."""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per input: the URNs of the resources its value comes from."""
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    protect: bool = False
    retain_on_delete: bool = False
    """`pulumi destroy` leaves the cloud resource in place and only forgets it."""
    custom_timeouts: Mapping[str, str] = field(default_factory=dict)
    """The provider's waits the program sets (`create`, `update`, `delete`), e.g. `35m`."""


@dataclass(kw_only=True)
class Rendering:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    stack_urn: str = ""
    error: BaseException | None = None
    """What the program raised, when rendered with check=False."""
    warnings: tuple[str, ...] = ()
    """What the program logged at warning level or above (`pulumi.log.warn`)."""
    config: dict[str, str] = field(default_factory=dict)
    """The stack's config as the CLI hands it to the program (`namespace:key` -> value),
    secrets masked; provider settings such as `aws:defaultTags` included."""
    platform: Rendering | None = None
    """For a service stack rendered from its stack file: its platform stack, rendered to
    resolve the StackReference (the graph draws the platform's side of its services)."""

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> RecordedResource:
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} (type {type_})")
        return found[0]

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))


STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"

LIVE_LISTENER_RULES: dict[str, list[dict[str, Any]]] = {}
"""Listener rule ARN -> its actions as AWS would return them (`forwards[].targetGroups[]` with
`arn` and `weight`), for tests of what the program does with a rule ECS has shifted."""


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self.stack_outputs = dict(stack_outputs or {})
        """Outputs of the stacks a StackReference may name, by `org/project/stack`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        name = args.name
        if args.typ == STACK_REFERENCE_TYPE:
            target = str(args.inputs.get("name") or args.resource_id or name)
            outputs = dict(self.stack_outputs.get(target, {}))
            return target, {"name": target, "outputs": outputs, "secretOutputNames": []}
        if args.typ == "awsx:ec2:Vpc":
            zones = int(args.inputs.get("numberOfAvailabilityZones") or 3)
            return "", {
                "vpcId": reference(name, "vpcId"),
                "publicSubnetIds": [reference(name, f"publicSubnetIds[{i}]") for i in range(zones)],
                "privateSubnetIds": [
                    reference(name, f"privateSubnetIds[{i}]") for i in range(zones)
                ],
            }
        if args.typ == "awsx:ecr:Image":
            # Built and pushed only by `pulumi up`: its digest is known after deploy.
            return "", {"imageUri": reference(name, "imageUri")}
        if not args.custom:
            return "", {}
        state = dict(args.inputs)
        state["arn"] = reference(name, "arn")
        state.setdefault("name", reference(name, "name"))
        for attribute in _COMPUTED.get(args.typ, ()):
            state.setdefault(attribute, reference(name, attribute))
        return reference(name, "id"), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": reference("aws", "accountId"),
                "arn": reference("aws", "callerArn"),
                "userId": reference("aws", "userId"),
                "id": reference("aws", "accountId"),
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": reference("aws", "partition"),
                "dnsSuffix": reference("aws", "dnsSuffix"),
                "id": reference("aws", "partition"),
            }, []
        if args.token == "aws:lb/getListenerRule:getListenerRule":
            # What ECS did with a rule's weights lives only in AWS. Offline, a rule reads as
            # it was created, or as a test sets it in LIVE_LISTENER_RULES.
            arn = str(args.args.get("arn"))
            return {"arn": arn, "actions": LIVE_LISTENER_RULES.get(arn, [])}, []
        raise NotImplementedError(f"the offline preview does not know the function {args.token}")


@contextlib.contextmanager
def _call_event_loop() -> Iterator[None]:
    """An event loop for one monitor call on a worker thread, closed when the call returns.

    The SDK calls the monitor on its executor's threads, and the mock monitor sets a new loop
    on any thread that has none and never closes it. Such a loop outlives its thread and is
    left to the interpreter's final garbage collection, which may finalize the loop's self-pipe
    socket before the loop; the loop's `__del__` then fails with "Invalid file descriptor: -1".
    """
    if threading.current_thread() is threading.main_thread():
        yield  # the run's own loop: closed at exit, see _close_run_loops
        return
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        pass  # none on this thread: give the call one below
    else:
        yield  # someone else's loop, theirs to close
        return
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each resource's parent, inputs and dependencies.

    The calls that need an event loop get one of their own (see _call_event_loop).
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []
        self.stack_urn = ""
        self._lock = threading.Lock()

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        with _call_event_loop():
            return super().Invoke(request)

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        with _call_event_loop():
            return super().ReadResource(request)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        with _call_event_loop():
            return self._register(request)

    def _register(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        record = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent if request.parent and request.parent != self.stack_urn else None,
            custom=bool(request.custom),
            inputs=_plain(rpc.deserialize_properties(request.object)),
            dependencies=tuple(sorted(request.dependencies)),
            property_dependencies={
                key: tuple(sorted(value.urns))
                for key, value in sorted(request.propertyDependencies.items())
            },
            ignore_changes=tuple(request.ignoreChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            custom_timeouts=_timeouts(request),
        )
        with self._lock:
            self.records.append(record)
        return response


def _timeouts(request: Any) -> dict[str, str]:
    timeouts = request.customTimeouts if request.HasField("customTimeouts") else None
    if timeouts is None:
        return {}
    return {
        kind: value for kind in ("create", "update", "delete") if (value := getattr(timeouts, kind))
    }


def _plain(value: Any) -> Any:
    """Deserialized inputs as plain JSON-like data: secrets masked, unknowns marked."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": value.path}  # as the program names it: from the project's root
    if isinstance(value, pulumi.FileAsset):
        return {"fileAsset": value.path}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {k: _plain(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    return value


class _EngineLog(logging.Handler):
    """Collects what the program logs through the engine (`pulumi.log.warn` and up)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self.logger = logging.getLogger(f"offline.engine.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def render(
    stack: str,
    *,
    config: StackConfig | None = None,
    project_dir: Path = PROJECT_DIR,
    check: bool = True,
    preview: bool = True,
) -> Rendering:
    """Run `__main__.py` of the project for `stack` and return what it registered.

    `preview=False` runs it as the update step of `pulumi up` would.

    With check (the default) an error of the program is raised (pulumi.RunError for a config
    error); without, it is returned in `Rendering.error` beside what was registered before it.
    """
    stack_config = config or load_stack_config(stack, project_dir)
    root = str(project_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    platform = _platform_of(stack_config, project_dir, preview=preview)
    references = {} if platform is None else {platform[0]: platform[1].outputs}

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    rendering = run_program(
        program, stack_config, check=check, preview=preview, stack_outputs=references
    )
    if platform is not None:
        rendering.platform = platform[1]
    return rendering


def _platform_of(
    stack_config: StackConfig, project_dir: Path, *, preview: bool
) -> tuple[str, Rendering] | None:
    """The platform a service stack's StackReference reads, with its reference: rendered from
    its own stack file in this project, whose outputs are what `pulumi up` of the platform
    would have exported."""
    reference = stack_config.config.get(f"{stack_config.project}:{PLATFORM_KEY}")
    parts = reference.split("/") if isinstance(reference, str) else []
    if len(parts) != 3:
        return None  # not a service stack, or a malformed reference the program reports
    _, project, platform_stack = parts
    if project != stack_config.project:
        raise StackFileError(
            f"platform {reference}: the offline tools render stacks of this project "
            f"({stack_config.project}) only"
        )
    try:
        return reference, render(platform_stack, project_dir=project_dir, preview=preview)
    except pulumi.RunError as error:
        # The platform's own error, which names the platform; and whose stack asked for it.
        raise pulumi.RunError(
            f"{error}\n(the platform stack of '{stack_config.stack}', rendered to resolve its "
            "StackReference)"
        ) from None


# The loops runs have used, each shared by the runs on its thread (closing one after a run would
# break the next run, and the SDK's own callers in the same process, which reuse it).
_RUN_LOOPS: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _run_loop() -> None:
    """Make sure this thread has the loop the run will use, and remember it for closing."""
    loop = _ensure_event_loop()
    if not loop.is_running():  # a running loop is the caller's, theirs to close
        _RUN_LOOPS.add(loop)


@atexit.register
def _close_run_loops() -> None:
    """Close the runs' loops before the interpreter's final garbage collection could find them
    open (see _call_event_loop). Exit handlers run once the interpreter has joined its threads,
    the executor's included, so no loop is in use and closing one from here is safe."""
    for loop in list(_RUN_LOOPS):
        if not loop.is_running() and not loop.is_closed():
            loop.close()


def run_program(
    program: Callable[[], None],
    stack_config: StackConfig,
    *,
    check: bool = True,
    preview: bool = True,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Rendering:
    """Run `program` under the recording mocks with the given config; `stack_outputs` are the
    outputs of the stacks its StackReferences name."""
    mocks = RecordingMocks(stack_outputs)
    monitor = RecordingMonitor(mocks)
    engine_log = _EngineLog()

    _run_loop()  # before set_mocks, whose root stack already needs the loop
    set_all_config(dict(stack_config.config), list(stack_config.secret_keys))
    set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack for every run
    pulumi.runtime.set_mocks(
        mocks,
        project=stack_config.project,
        stack=stack_config.stack,
        preview=preview,
        monitor=monitor,
        logger=engine_log.logger,
    )
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()

    error: BaseException | None = None
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as raised:
        if check:
            raise
        error = raised

    stack_resource = get_root_resource()
    exported = dict(getattr(stack_resource, "outputs", {}) or {})
    outputs = _sync_await(_resolve(exported)) if error is None else {}
    return Rendering(
        project=stack_config.project,
        stack=stack_config.stack,
        resources=sorted(monitor.records, key=lambda r: r.urn),
        outputs=outputs,
        stack_urn=monitor.stack_urn,
        error=error,
        warnings=tuple(engine_log.messages),
        config=dict(sorted(stack_config.config.items())),
    )


async def _resolve(outputs: Mapping[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in sorted(outputs.items()):
        output = pulumi.Output.from_input(value)
        known = await output.is_known()
        if not known:
            resolved[key] = UNKNOWN
            continue
        if await output.is_secret():
            resolved[key] = SECRET_PLACEHOLDER
            continue
        result = await output.future(with_unknowns=True)
        resolved[key] = _plain(result)
    return resolved
