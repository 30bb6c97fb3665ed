"""Alerts: where an environment's alarms notify, and the dashboard that shows its services.

One SNS topic per environment (encrypted with its own customer-managed key where asked), with
an email subscription per address; and one CloudWatch dashboard generated from the services,
so that a new service appears on it without editing anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.key_policy import account_administers_the_key

PERIOD_SECONDS = 60


@dataclass(frozen=True, kw_only=True)
class AlertTopicArgs:
    emails: Sequence[str] = ()
    """Each address gets a subscription it must confirm from the email AWS sends."""
    encrypt: bool = False
    """Encrypt the topic with a customer-managed key this component creates."""
    account_id: pulumi.Input[str] | None = None
    """Required with encrypt: the key's policy names the account."""
    partition: pulumi.Input[str] = "aws"
    region: str = ""
    """Required with encrypt: only this region's alarms may use the key."""
    retain_key_on_delete: bool = False


class AlertTopic(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:alerts:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key_arn = None
        if args.encrypt:
            if args.account_id is None or not args.region:
                raise ValueError("AlertTopicArgs.account_id and region are required with encrypt")
            key = aws.kms.Key(
                f"{name}-key",
                description="Encrypts the alarm topic of this stack",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=pulumi.Output.all(args.account_id, args.partition).apply(
                    lambda values: json.dumps(
                        alarm_topic_key_policy(
                            account_id=values[0], region=args.region, partition=values[1]
                        )
                    )
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=args.retain_key_on_delete
                ),
            )
            key_arn = key.arn
        topic = aws.sns.Topic(
            f"{name}-topic",
            kms_master_key_id=key_arn,
            opts=child,
        )
        for index, email in enumerate(args.emails):
            # AWS keeps a subscription pending until its address confirms it; Pulumi cannot
            # confirm or delete a pending one (pulumi_aws sns.TopicSubscription docs).
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topicArn": self.topic_arn})


@dataclass(frozen=True, kw_only=True)
class DashboardService:
    name: str
    target_group_arn_suffixes: Sequence[str] = ()
    """The target groups of a routed service (two with a traffic-shifting strategy)."""


def dashboard_body(
    *,
    region: str,
    cluster_name: str,
    services: Sequence[DashboardService],
    load_balancer_arn_suffix: str | None,
) -> dict[str, Any]:
    """The dashboard as CloudWatch's dashboard body structure
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
    a row per service (CPU, memory, running tasks), then the load balancer."""

    def widget(title: str, metrics: list[list[Any]], stat: str, x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 8,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "metrics": metrics,
                "stat": stat,
                "period": PERIOD_SECONDS,
            },
        }

    widgets = []
    for row, service in enumerate(services):
        dimensions = ["ClusterName", cluster_name, "ServiceName", service.name]
        y = row * 6
        widgets += [
            widget(
                f"{service.name}: CPU %",
                [["AWS/ECS", "CPUUtilization", *dimensions]],
                "Average",
                0,
                y,
            ),
            widget(
                f"{service.name}: memory %",
                [["AWS/ECS", "MemoryUtilization", *dimensions]],
                "Average",
                8,
                y,
            ),
            widget(
                f"{service.name}: running tasks",
                [
                    ["ECS/ContainerInsights", "RunningTaskCount", *dimensions],
                    ["ECS/ContainerInsights", "DesiredTaskCount", *dimensions],
                ],
                "Average",
                16,
                y,
            ),
        ]
    if load_balancer_arn_suffix is not None:
        y = len(services) * 6
        alb = ["LoadBalancer", load_balancer_arn_suffix]
        widgets += [
            widget(
                "load balancer: requests",
                [["AWS/ApplicationELB", "RequestCount", *alb]],
                "Sum",
                0,
                y,
            ),
            widget(
                "load balancer: 5xx",
                [
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb],
                    ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *alb],
                ],
                "Sum",
                8,
                y,
            ),
            widget(
                "load balancer: target response time p99 (s)",
                [["AWS/ApplicationELB", "TargetResponseTime", *alb]],
                "p99",
                16,
                y,
            ),
        ]
    return {"widgets": widgets}


def alarm_topic_key_policy(
    *, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """Key policy for the key that encrypts the alarm topic.

    CloudWatch publishes alarm notifications to an encrypted topic only if the key lets it
    decrypt and generate data keys; AWS's managed key for SNS cannot be used for that
    (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). The same SNS page
    asks for aws:SourceAccount and aws:SourceArn on such a statement against the confused
    deputy problem, so only this account's alarms, in this region, may use it.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_the_key(account_id=account_id, partition=partition),
            {
                "Sid": "CloudWatchPublishesAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"
                    },
                },
            },
        ],
    }
