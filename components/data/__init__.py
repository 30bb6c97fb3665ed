"""Data: the DynamoDB table a service owns, with its key, the grant its task role gets and the
grant its stream's reader gets (table.py).
"""

from components.data.table import (
    ITEM_ACTIONS,
    KEY_ACTIONS,
    STREAM_READ_ACTIONS,
    ServiceTable,
    ServiceTableArgs,
    account_key_policy,
    stream_read_statements,
    table_policy,
)

__all__ = [
    "ITEM_ACTIONS",
    "KEY_ACTIONS",
    "STREAM_READ_ACTIONS",
    "ServiceTable",
    "ServiceTableArgs",
    "account_key_policy",
    "stream_read_statements",
    "table_policy",
]
