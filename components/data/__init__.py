"""Data: the DynamoDB table a service owns, with its key and the grant its task role gets
(table.py).
"""

from components.data.table import (
    ITEM_ACTIONS,
    KEY_ACTIONS,
    ServiceTable,
    ServiceTableArgs,
    account_key_policy,
    table_policy,
)

__all__ = [
    "ITEM_ACTIONS",
    "KEY_ACTIONS",
    "ServiceTable",
    "ServiceTableArgs",
    "account_key_policy",
    "table_policy",
]
