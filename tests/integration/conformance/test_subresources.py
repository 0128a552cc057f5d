"""Subresources and 404s as the real server answers them.

Sources: pkg/registry/core/pod/storage/eviction.go (201 Success, DisruptionTarget, 429 for a
budget), pkg/registry/core/serviceaccount/storage/token.go (201 TokenRequest), the router's 404
for an unknown subresource (a Status with `details`), authorization/v1 SelfSubjectRulesReview.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def _pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x", "command": ["sleep", "30"]}],
        },
    }


def test_an_eviction_is_201_and_the_pod_goes(core: Any) -> None:
    core.create_namespaced_pod("default", _pod("evictee"))
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evictee"}}
    _, code, _ = core.create_namespaced_pod_eviction_with_http_info("evictee", "default", eviction)
    assert code == 201
    try:
        pod = core.read_namespaced_pod("evictee", "default")
    except ApiException as exc:
        assert exc.status == 404  # deleted at once (no node holds it)
    else:  # or terminating, marked as disrupted
        assert pod.metadata.deletion_timestamp is not None
        assert any(c.type == "DisruptionTarget" for c in pod.status.conditions or [])


def test_an_eviction_a_budget_forbids_is_429(core: Any, api: kubernetes.client.ApiClient) -> None:
    core.create_namespaced_pod("default", _pod("guarded", {"app": "guarded"}))
    policy = kubernetes.client.PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": "keep"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
        },
    )
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded"}}
    code, status = refused(lambda: core.create_namespaced_pod_eviction("guarded", "default", eviction))
    assert code == 429
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."


def test_a_token_request_is_201_and_the_token_authenticates(core: Any, cluster: Any) -> None:
    core.create_namespaced_service_account("default", {"metadata": {"name": "robot"}})
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600},
    }
    answer, code, _ = core.create_namespaced_service_account_token_with_http_info("robot", "default", request)
    assert code == 201
    assert answer.status.token
    assert answer.status.expiration_timestamp is not None
    configuration = kubernetes.client.Configuration()
    configuration.host = cluster.url
    configuration.api_key = {"authorization": f"Bearer {answer.status.token}"}
    configuration.ssl_ca_cert = str(cluster.state_dir / "pki" / "ca.crt")
    with kubernetes.client.ApiClient(configuration) as as_robot:
        review = kubernetes.client.AuthenticationV1Api(as_robot).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    assert review.status.user_info.username == "system:serviceaccount:default:robot"
    assert "robot" in {sa.metadata.name for sa in core.list_namespaced_service_account("default").items}
    assert (
        len(
            [
                sa
                for sa in core.list_namespaced_service_account("default").items
                if sa.metadata.name == "robot"
            ]
        )
        == 1
    )


def test_an_unknown_subresource_is_404_with_details(api: kubernetes.client.ApiClient, core: Any) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "plain"}})
    response = api.rest_client.request(
        "POST",
        f"{api.configuration.host}/api/v1/namespaces/default/configmaps/plain/nonsense",
        headers={
            "Content-Type": "application/json",
            "Authorization": api.configuration.get_api_key_with_prefix("authorization") or "",
        },
        body={},
    )
    assert response.status == 404
    status = json.loads(response.read())
    assert status["reason"] == "NotFound"
    assert "details" in status


def test_a_missing_object_404_names_it_in_details(core: Any) -> None:
    code, status = refused(lambda: core.read_namespaced_pod("nobody", "default"))
    assert code == 404
    assert status["details"] == {"name": "nobody", "kind": "pods"}


def test_kubectl_auth_can_i_list_reads_a_self_subject_rules_review(kubectl: Any) -> None:
    listed = kubectl("auth", "can-i", "--list").stdout
    assert "*.*" in listed


def test_kubectl_talks_https_with_the_generated_ca_and_is_not_anonymous(kubectl: Any, cluster: Any) -> None:
    assert cluster.url.startswith("https://")
    assert "certificate-authority-data" in cluster.kubeconfig_path.read_text(encoding="utf-8")
    assert kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout == "admin"


def test_every_namespace_has_a_default_service_account(core: Any) -> None:
    core.create_namespace({"metadata": {"name": "fresh"}})
    assert core.read_namespaced_service_account("default", "fresh").metadata.name == "default"
    assert core.read_namespaced_service_account("default", "kube-system").metadata.name == "default"
