"""Observability: what watches the cluster and never takes part in a decision.

Prometheus `metrics`, per-request `telemetry`, the `eta` and `cost` estimates and the
`accounting` that publishes them, JSON `logformat`, webhook `notify/`, and the kopf `handlers`
that feed them. Writes only its own fields (status.cost, status.estimatedCompletionTime, the
notifications annotation, the `scenefarm-eta` ConfigMap).
"""
