"""How much the offline preview of a stack costs beyond importing the SDKs.

Runs both commands alternately in one session (the machine is shared and noisy) and prints
the median wall times and their ratio:

    .venv/bin/python scripts/bench_preview.py [--stack dev] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LOAD_USED_MODULES = """
import pulumi, pulumi.runtime, pulumi_aws as aws, pulumi_awsx as awsx, pydantic, yaml
for cls in (aws.appautoscaling.Policy, aws.appautoscaling.Target, aws.cloudwatch.LogGroup,
            aws.ec2.DefaultSecurityGroup, aws.ec2.SecurityGroup, aws.ecs.Cluster,
            aws.ecs.ClusterCapacityProviders, aws.ecs.Service, aws.ecs.TaskDefinition,
            aws.iam.Role, aws.iam.RolePolicy, aws.lb.Listener, aws.lb.ListenerRule,
            aws.lb.LoadBalancer, aws.lb.TargetGroup, aws.s3.Bucket,
            aws.servicediscovery.PrivateDnsNamespace, aws.servicediscovery.Service,
            aws.vpc.SecurityGroupEgressRule, aws.vpc.SecurityGroupIngressRule, awsx.ec2.Vpc,
            aws.get_caller_identity_output, aws.get_partition_output):
    pass
"""


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    commands = {
        "import the SDKs": [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_awsx"],
        # pulumi_aws loads its modules on first use; this loads the ones the program uses.
        "load the used SDK modules": [sys.executable, "-c", LOAD_USED_MODULES],
        f"preview --stack {args.stack}": [
            sys.executable, "-m", "offline", "preview", "--stack", args.stack
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(wall_time(command))

    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<28} median {median:.3f} s over {args.runs} runs")
    imported, loaded, preview = medians.values()
    print(f"preview / import the SDKs:        {preview / imported:.2f}")
    print(f"preview / load the used modules:  {preview / loaded:.2f}")


if __name__ == "__main__":
    main()
