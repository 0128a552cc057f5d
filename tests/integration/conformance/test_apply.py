"""Server-side apply after client-side apply, and PatchOptions validation.

Sources: apiserver fieldmanager lastappliedmanager.go (kubectl's server-side apply takes over the
fields of the last-applied-configuration), apimachinery validation ValidatePatchOptions (422
PatchOptions.meta.k8s.io for apply without fieldManager and for force on a non-apply patch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes


def _manifest(tmp_path: Path, value: str) -> Path:
    path = tmp_path / f"cm-{value}.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: handover\n  namespace: default\n"
        f"data:\n  quality: {value}\n",
        encoding="utf-8",
    )
    return path


def test_server_side_apply_takes_over_from_client_side_apply(kubectl: Any, tmp_path: Path) -> None:
    kubectl("apply", "-f", str(_manifest(tmp_path, "low")))
    diff = kubectl("diff", "--server-side", "-f", str(_manifest(tmp_path, "high")), check=False)
    assert diff.returncode == 1, diff.stderr  # 1: differences found, no conflict error (that is > 1)
    assert "+  quality: high" in diff.stdout
    kubectl("apply", "--server-side", "-f", str(_manifest(tmp_path, "high")))
    data = kubectl("get", "configmap", "handover", "-o", "jsonpath={.data.quality}").stdout
    assert data == "high"
    managers = json.loads(
        kubectl("get", "configmap", "handover", "-o", "json", "--show-managed-fields").stdout
    )
    assert "kubectl" in {e["manager"] for e in managers["metadata"]["managedFields"]}


def _request(api: kubernetes.client.ApiClient, path: str, content_type: str, body: Any) -> tuple[int, Any]:
    response = api.rest_client.request(
        "PATCH",
        f"{api.configuration.host}{path}",
        headers={
            "Content-Type": content_type,
            "Authorization": api.configuration.get_api_key_with_prefix("authorization") or "",
        },
        body=body,
    )
    return response.status, json.loads(response.read())


def test_apply_without_a_field_manager_is_422(api: kubernetes.client.ApiClient) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nomanager"}}
    code, status = _request(
        api,
        "/api/v1/namespaces/default/configmaps/nomanager",
        "application/apply-patch+yaml",
        json.dumps(body),
    )
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def test_force_on_a_merge_patch_is_422(api: kubernetes.client.ApiClient) -> None:
    kubernetes.client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "forced"}})
    code, status = _request(
        api,
        "/api/v1/namespaces/default/configmaps/forced?force=true",
        "application/merge-patch+json",
        {"data": {}},
    )
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'
    )
