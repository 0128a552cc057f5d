"""Signed webhook notifications: CloudEvents 1.0 JSON for finished requests (and, on request, scenes).

`events` (pure) says which events a status calls for and builds them with deterministic ids;
`signing` signs and verifies bodies (HMAC-SHA256); `targets` turns `spec.notify` into a target
(an allowlisted name, or a Secret holding URL and key) and refuses private destinations;
`ledger` (pure) is the delivery state persisted on the VideoRequest; `delivery` sends, retries
with backoff and records each attempt in the cluster, so a restarted operator carries on.
"""
