"""What makes the operator fit a real, busy cluster: selectors, a small diffbase, client logins."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import kopf
import yaml
from kopf._cogs.structs import patches, references

from scenefarm_operator.runtime import handlers, login
from scenefarm_operator.runtime.diffbase import DigestDiffBaseStorage

ANNOTATION_BUDGET = 256 * 1024


def tuned() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    handlers.tune(settings)
    return settings


def selectors_for(settings: kopf.OperatorSettings, group: str, plural: str) -> list[str]:
    resource = references.Resource(group=group, version="v1", plural=plural, preferred=True)
    return settings.watching.label_selectors.collect(resource)


def test_the_job_and_pod_watches_carry_a_server_side_label_selector() -> None:
    settings = tuned()
    assert selectors_for(settings, "batch", "jobs") == ["app.kubernetes.io/managed-by=scenefarm"]
    assert selectors_for(settings, "", "pods") == ["app.kubernetes.io/managed-by=scenefarm"]


def test_the_videorequest_and_other_watches_are_not_narrowed() -> None:
    settings = tuned()
    assert selectors_for(settings, "scenefarm.dev", "videorequests") == []
    assert selectors_for(settings, "", "configmaps") == []


def request_body(code_bytes: int) -> kopf.Body:
    scenes = [{"name": f"s{i}", "className": "S", "code": "#" * 16_384} for i in range(code_bytes // 16_384)]
    raw: dict[str, Any] = {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "big", "namespace": "default", "annotations": {}, "labels": {"team": "a"}},
        "spec": {"topic": "t", "scenes": scenes},
    }
    return kopf.Body(raw)  # type: ignore[arg-type]


def stored_annotation(storage: kopf.DiffBaseStorage, body: kopf.Body) -> str:
    patch = patches.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    return str(patch["metadata"]["annotations"]["kopf.zalando.org/last-handled-configuration"])


def test_the_largest_spec_the_crd_allows_stays_out_of_the_last_handled_configuration() -> None:
    body = request_body(50 * 16_384)  # 800 KiB of inline code
    assert (
        len(stored_annotation(kopf.AnnotationsDiffBaseStorage(), body)) > ANNOTATION_BUDGET
    )  # kopf's default
    ours = stored_annotation(tuned().persistence.diffbase_storage, body)
    assert len(ours) < 1024
    assert json.loads(ours)["metadata"]["labels"] == {"team": "a"}


def test_a_spec_change_still_changes_the_stored_essence() -> None:
    storage = DigestDiffBaseStorage()
    before, after = request_body(16_384), request_body(32_768)
    assert storage.build(body=before) != storage.build(body=after)
    assert storage.build(body=before) == storage.build(body=request_body(16_384))


def exec_kubeconfig(tmp_path: Path, token_script: str) -> Path:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(token_script)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [
            {
                "name": "u",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": sys.executable,
                        "args": [str(plugin)],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


PLUGIN = """import json
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": "from-the-plugin"}}))
"""


def test_kopf_logs_in_with_a_token_from_an_exec_credential_plugin(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KUBECONFIG", str(exec_kubeconfig(tmp_path, PLUGIN)))
    info = login.login()  # what main.login (the @kopf.on.login handler) returns
    assert info.server == "http://127.0.0.1:1"
    assert info.token == "from-the-plugin"
    assert info.scheme == "Bearer"


def test_a_rotated_token_file_is_read_again_at_the_next_login(tmp_path: Path, monkeypatch: Any) -> None:
    token = tmp_path / "token"
    token.write_text("first")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert login.login().token == "first"
    token.write_text("second")  # the kubelet rotates a projected token in place
    assert login.login().token == "second"


def test_without_any_credentials_the_login_error_says_so(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    try:
        login.login()
    except kopf.LoginError as error:
        assert "no usable Kubernetes credentials" in str(error)
    else:
        raise AssertionError("expected a LoginError")
