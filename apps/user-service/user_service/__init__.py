"""user-service: creates and reads users, stored in its own DynamoDB table."""
