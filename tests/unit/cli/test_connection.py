from pathlib import Path

import pytest
import yaml

from scenefarm_cli.connection import Connection, kubeconfig_path
from scenefarm_cli.errors import Unreachable


def write_kubeconfig(path: Path, namespace: str | None = "videos") -> Path:
    context = {"cluster": "c", "user": "u"} | ({"namespace": namespace} if namespace else {})
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "dev", "context": context},
                    {"name": "other", "context": {"cluster": "c", "user": "u"}},
                ],
                "current-context": "dev",
            }
        )
    )
    return path


def test_the_namespace_comes_from_the_flag_then_the_context_then_default(tmp_path) -> None:
    path = write_kubeconfig(tmp_path / "config")
    assert Connection.resolve(path, None, None).namespace == "videos"
    assert Connection.resolve(path, None, "mine").namespace == "mine"
    assert Connection.resolve(path, "other", None).namespace == "default"


def test_kubeconfig_comes_from_the_flag_then_the_first_existing_file_in_KUBECONFIG(
    tmp_path, monkeypatch
) -> None:
    first, second = tmp_path / "a", write_kubeconfig(tmp_path / "b")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {"KUBECONFIG": f"{first}:{second}"}
    assert kubeconfig_path(None, env) == second
    assert kubeconfig_path(second, {}) == second
    assert kubeconfig_path(None, {}) is None  # no ~/.kube/config either


def test_an_unknown_context_names_the_ones_there_are(tmp_path) -> None:
    path = write_kubeconfig(tmp_path / "config")
    with pytest.raises(Unreachable, match=r"no context nope in .* \(contexts: dev, other\)"):
        Connection.resolve(path, "nope", None)


def test_a_missing_kubeconfig_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(Unreachable, match="no kubeconfig at"):
        Connection.resolve(tmp_path / "absent", None, None)


def test_a_cluster_that_does_not_answer_is_unreachable_not_a_traceback(tmp_path) -> None:
    from scenefarm_cli.videorequests import get

    conn = Connection.resolve(write_kubeconfig(tmp_path / "config"), None, None)
    with pytest.raises(
        Unreachable,
        match=r"cannot reach the cluster at http://127.0.0.1:1 \(context dev, kubeconfig .*config\)",
    ):
        get(conn, "x")


def test_a_kubeconfig_without_a_current_context_says_what_to_do(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n")
    with pytest.raises(
        Unreachable, match=r"has no current context \(contexts: none\); pass --context, or start a"
    ):
        Connection.resolve(path, None, None)


def test_a_set_KUBECONFIG_is_never_replaced_by_the_home_file(tmp_path, monkeypatch) -> None:
    """As kubectl: $KUBECONFIG naming no existing file does not fall back to ~/.kube/config,
    and the message names $KUBECONFIG, not ~/.kube/config."""
    (tmp_path / ".kube").mkdir()
    write_kubeconfig(tmp_path / ".kube" / "config")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig_path(None, {"KUBECONFIG": str(tmp_path / "gone")}) is None
    assert kubeconfig_path(None, {}) == tmp_path / ".kube" / "config"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "gone"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(Unreachable, match=r"\$KUBECONFIG=.*/gone names no file that exists") as caught:
        Connection.resolve(None, None, None)
    assert "~/.kube/config" not in str(caught.value)
