"""The Helm chart's RBAC, rendered with `helm template`, for the dev cluster to enforce.

`DevEnv(rbac_from_chart=True)` loads these roles and bindings into the dev cluster and makes it
answer the operator's requests the way a cluster would with the chart installed: 403 for
anything the chart does not grant its ServiceAccount.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scenefarm_devkit.data import chart_path
from scenefarm_devkit.tools import ensure_tool

CHART = chart_path()
RELEASE = "scenefarm"
RELEASE_NAMESPACE = "scenefarm-system"
RBAC_KINDS = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")

Manifest = dict[str, Any]


def render(values: Mapping[str, Any] | None = None, chart: Path = CHART) -> list[Manifest]:
    """Every manifest of `helm template` with these values (each top-level key via --set-json)."""
    cmd = [str(ensure_tool("helm")), "template", RELEASE, str(chart), "--namespace", RELEASE_NAMESPACE]
    for key, value in (values or {}).items():
        cmd += ["--set-json", f"{key}={json.dumps(value)}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"helm template failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if isinstance(doc, dict)]


def rbac_objects(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") in RBAC_KINDS]


def operator_subject(manifests: list[Manifest]) -> dict[str, str]:
    """The ServiceAccount the chart's operator Deployment runs as: who the roles are bound to."""
    deployment = next(m for m in manifests if m.get("kind") == "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"].get("namespace", RELEASE_NAMESPACE)
    return {"kind": "ServiceAccount", "name": str(account), "namespace": str(namespace)}
