"""admissionregistration.k8s.io/v1: registered webhooks are called (apiserver
pkg/admission/plugin/webhook: AdmissionReview v1, JSONPatch mutations, `admission webhook "<name>"
denied the request: <message>`, warnings as Warning headers, failurePolicy)."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from scenefarm_devkit.apiserver.pki import CertificateAuthority


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        data = request["object"].get("data") or {}
        if self.path == "/validate" and "bad" in data:
            response = {
                "uid": request["uid"],
                "allowed": False,
                "status": {"code": 403, "message": "no bad data"},
            }
        if self.path == "/mutate":
            patch = [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]
            response |= {
                "patchType": "JSONPatch",
                "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
            }
            response["warnings"] = ["mutated by the test webhook"]
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    authority = CertificateAuthority.create(Path(tmp_path_factory.mktemp("webhook-pki")))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.socket = authority.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield (
        f"https://127.0.0.1:{server.server_address[1]}",
        base64.b64encode(authority.ca_cert.read_bytes()).decode(),
    )
    server.shutdown()


def _config(kind: str, name: str, url: str, ca: str, path: str) -> dict[str, Any]:
    rule = {
        "operations": ["CREATE", "UPDATE"],
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "resources": ["configmaps"],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.example.com",
                "clientConfig": {"url": f"{url}{path}", "caBundle": ca},
                "rules": [rule],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "objectSelector": {"matchLabels": {"webhooked": "true"}},
            }
        ],
    }


def test_registered_webhooks_mutate_and_deny(
    api: kubernetes.client.ApiClient, webhook_url: tuple[str, str]
) -> None:
    url, ca = webhook_url
    registration = kubernetes.client.AdmissionregistrationV1Api(api)
    registration.create_validating_webhook_configuration(
        _config("ValidatingWebhookConfiguration", "deny", url, ca, "/validate")
    )
    registration.create_mutating_webhook_configuration(
        _config("MutatingWebhookConfiguration", "mutate", url, ca, "/mutate")
    )
    core = kubernetes.client.CoreV1Api(api)
    # not selected (no webhooked label): untouched
    assert (
        core.create_namespaced_config_map("default", {"metadata": {"name": "quiet"}}).metadata.labels is None
    )
    selected = {"metadata": {"name": "hooked", "labels": {"webhooked": "true"}}, "data": {"ok": "1"}}
    created, _, headers = core.create_namespaced_config_map_with_http_info("default", selected)
    assert created.metadata.labels == {"mutated": "yes"}
    assert "mutated by the test webhook" in headers["Warning"]
    # without the mutating webhook (it would replace the labels the validating one selects by)
    denied = {"metadata": {"name": "denied", "labels": {"webhooked": "true"}}, "data": {"bad": "1"}}
    registration.delete_mutating_webhook_configuration("mutate")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", denied)
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["message"] == (
        'admission webhook "deny.example.com" denied the request: no bad data'
    )


def test_the_admission_api_is_discoverable(kubectl: Any) -> None:
    resources = kubectl(
        "api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name"
    ).stdout.split()
    assert "validatingwebhookconfigurations.admissionregistration.k8s.io" in resources
    assert "mutatingwebhookconfigurations.admissionregistration.k8s.io" in resources
