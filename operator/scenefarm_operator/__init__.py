"""The scenefarm operator: VideoRequest -> plan -> one Job per scene -> status -> combine.

Layers, top to bottom (a module imports only from layers below it):

- `handlers`: kopf wiring only (decorators, startup settings).
- `reconcile`: one pass over one VideoRequest; reads the observed children, acts, patches status.
- `kube`, `appwrite`, `planning.gemini`: the only modules that talk to the outside.
- `manifests`, `aggregation`, `scheduling`, `naming`, `conditions`: pure functions.
- `settings`, `errors`: read once / shared by everyone.
"""
