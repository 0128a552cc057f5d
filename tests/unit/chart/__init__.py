"""Chart, RBAC, GitOps and tooling checks for charts/scenefarm (run offline with a fetched helm)."""
