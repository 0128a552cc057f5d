"""Secrets and ConfigMaps: stringData, immutable objects, Secret types.

Sources: pkg/apis/core/v1 conversion (stringData into data), defaults.go (SetDefaults_Secret),
pkg/apis/core/validation (ValidateSecret, ValidateSecretUpdate, ValidateConfigMapUpdate).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


def test_string_data_is_merged_into_data_and_not_stored(core: Any, kubectl: Any) -> None:
    body = {"metadata": {"name": "key"}, "data": {"a": "MQ=="}, "stringData": {"apiKey": "s3cret", "a": "2"}}
    secret = core.create_namespaced_secret("default", body)
    assert secret.data == {
        "a": base64.b64encode(b"2").decode(),
        "apiKey": base64.b64encode(b"s3cret").decode(),
    }
    assert secret.string_data is None
    assert secret.type == "Opaque"
    assert kubectl("get", "secret", "key", "-o", "jsonpath={.data.apiKey}").stdout == "czNjcmV0"
    assert "2" in kubectl("get", "secret", "key").stdout.split("\n")[1].split()  # DATA 2


def test_a_secrets_type_never_changes(core: Any) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "typed"}, "stringData": {"x": "y"}})
    code, message = refused(
        lambda: core.patch_namespaced_secret("typed", "default", {"type": "example.com/other"})
    )
    assert code == 422
    assert 'type: Invalid value: "example.com/other": field is immutable' in message


def test_a_tls_secret_needs_its_keys(core: Any) -> None:
    body = {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": "c"}}
    code, message = refused(lambda: core.create_namespaced_secret("default", body))
    assert code == 422
    assert "data[tls.key]: Required value" in message


@pytest.mark.parametrize("kind", ["config_map", "secret"])
def test_immutable_objects_refuse_changes(core: Any, kind: str) -> None:
    create = getattr(core, f"create_namespaced_{kind}")
    patch = getattr(core, f"patch_namespaced_{kind}")
    name = f"frozen-{kind.replace('_', '')}"
    create("default", {"metadata": {"name": name}, "data": {"a": "Yg=="}, "immutable": True})
    code, message = refused(lambda: patch(name, "default", {"data": {"a": "Yw=="}}))
    assert code == 422
    assert "data: Forbidden: field is immutable when `immutable` is set" in message
    code, message = refused(lambda: patch(name, "default", {"immutable": False}))
    assert "immutable: Forbidden: field is immutable when `immutable` is set" in message
    # labels are not data: still allowed
    assert patch(name, "default", {"metadata": {"labels": {"k": "v"}}}).metadata.labels == {"k": "v"}
