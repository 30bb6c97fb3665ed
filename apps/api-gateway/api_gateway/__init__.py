"""api-gateway: the public entry point; forwards /users and /orders to their services."""
