"""REST API v1: urls, views, webhooks (the webhook endpoints), serializers, idempotency, and
what the views share (common)."""
