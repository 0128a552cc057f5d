"""The operator: kopf watches VideoRequests and drives them to a video, on top of `scenefarm_contract`.

Rooms, each importing only the rooms below it (import-linter's layers contract in pyproject.toml):

    main        the one kopf entry module: builds the runtime once, registers every handler
    web         the Appwrite mirror and the web intake
    runtime     the reconcile loop, Kubernetes access (kube), planner calls, the cluster-wide cap
    observe     metrics, telemetry, ETA and cost, logs, webhook notifications
    engine      pure decisions, status and manifests (no client, no SDK, no kopf)
    planning    the planners (Explicit, Template, Gemini) and plan validation
    support     settings and the one error root

The user CLI is its own package (`scenefarm_cli`); nothing here imports it, the dev kit or the
renderer. docs/architecture.md has a "where it lives" table over these rooms.
"""
