"""Explicit VideoRequests for the benches that run the operator on the dev cluster, and their
status read straight from the cluster's store."""

from __future__ import annotations

from typing import Any

from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.engine.manifests import naming

NAMESPACE = "default"


def video_request(name: str, codes: list[str], parallelism: int) -> dict[str, Any]:
    """A low-quality Explicit request whose scene i is `codes[i]` (class `S{i}`, name `s{i}`)."""
    items = [{"name": f"s{i}", "className": f"S{i}", "code": code} for i, code in enumerate(codes)]
    return {
        "apiVersion": f"{naming.GROUP}/{naming.VERSION}",
        "kind": naming.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "topic": name,
            "scenes": items,
            "planner": {"mode": "Explicit"},
            "render": {"quality": "low", "parallelism": parallelism},
        },
    }


def status_of(env: DevEnv, name: str) -> dict[str, Any]:
    """Read from the dev cluster's store directly: polling over HTTP would load its event loop."""
    obj = env.cluster.get_object(naming.PLURAL, NAMESPACE, name, naming.GROUP)
    return dict((obj or {}).get("status") or {})
