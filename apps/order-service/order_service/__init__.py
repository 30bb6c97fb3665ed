"""order-service: creates and reads orders of known users, stored in its own DynamoDB table."""
