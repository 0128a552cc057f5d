"""The product: the scenefarm operator and the user CLI, on top of `scenefarm_contract`.

What belongs here: everything that runs in the operator image or on a user's machine to drive
VideoRequests — kopf wiring (`handlers`), the reconcile loop (`reconcile`: snapshot, observe,
act, publish) around the pure decision (`decide`, `healing`, `triage`, `status`, `lifecycle`,
`admission`), planners (`planning/`), the outside world (`kube`, `appwrite/`, `planning.gemini`,
`notify/`, `metrics`), and the user CLI (`cli`, `usercli/`). Nothing here imports the dev kit
or the renderer's Manim side (import-linter checks); docs/architecture.md draws the layers.
"""
