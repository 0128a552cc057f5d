"""The dev kit: everything that stands in for a cluster and its services on one machine.

What belongs here, top to bottom:

- wiring that knows the product: `devenv` (cluster + Job runner + operator process), `demo`
  and `cli` (`scenefarm demo`, `scenefarm dev up`), `doubles` (doubles with the product's
  defaults handed in), `instant_renders` (the renderer's termination message, made up),
  `chart_rbac` (the chart's roles for the cluster to enforce), `tools` (helm/kubectl), `data`;
- generic parts that know no product code and not each other: `apiserver` (the Kubernetes API
  stand-in), `jobrunner` (Job controller + kubelet), `appwrite_double`, `gemini_double`.

Nothing in the product imports this package (import-linter's layers contract).
"""
