"""Webhooks: services (webhooks and events), delivery (URL checks, signed POSTs, retries),
payloads (what events carry), and the account's webhook pages (views, urls)."""
