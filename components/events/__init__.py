"""Events between services (docs/events.md): the platform's transport (transport.py: the events
key, a topic and a relay log group per publisher), a publisher's relay from its table's stream
to its topic (relay.py), a subscriber's queue with its subscriptions (queue.py). Each grant is
returned by the component whose resource it is on."""

from components.events.queue import (
    CONSUMER_ACTIONS,
    EventQueue,
    EventQueueArgs,
    EventSourceArgs,
    consumer_policy,
    filter_policy,
    queue_policy,
)
from components.events.relay import RELAY_PACKAGE, EventRelay, EventRelayArgs, relay_policy
from components.events.transport import (
    EventTransport,
    EventTransportArgs,
    PublisherArgs,
    events_key_policy,
)

__all__ = [
    "CONSUMER_ACTIONS",
    "RELAY_PACKAGE",
    "EventQueue",
    "EventQueueArgs",
    "EventRelay",
    "EventRelayArgs",
    "EventSourceArgs",
    "EventTransport",
    "EventTransportArgs",
    "PublisherArgs",
    "consumer_policy",
    "events_key_policy",
    "filter_policy",
    "queue_policy",
    "relay_policy",
]
