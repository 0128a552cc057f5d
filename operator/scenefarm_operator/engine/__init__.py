"""The engine: every decision of the operator, pure.

`decide` turns what exists (the spec, the stored plan, the observed children, the last status,
the clock) into a status and effects as values; `healing` and `triage` decide each scene's fate,
`observed` and `stages` read the children, `chunking` and `scene_cache` decide how a scene is
rendered, `status` and `conditions` write what the user sees, `lifecycle` holds deadlines, TTL and
combine inputs, `plan_store` the plan's revisions, `admission_signals` and `kueue` why a Pod or a
Job waits, and `manifests/` builds every child object.

No Kubernetes client, no SDK, no kopf (import-linter keeps it so): the same inputs give the
same decision, which is what makes a restarted operator decide what the old one would have.
"""
