"""`scenefarm demo FILE` checks the file as `scenefarm apply` does: the same one-line messages and
exit codes, the file's own problems before any cluster starts (and before the last demo's state
is removed), the API server's strict validation before the operator starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenefarm_cli import main as cli
from scenefarm_devkit import demo
from scenefarm_devkit.devenv import DevEnv

GOOD = """\
apiVersion: scenefarm.dev/v1alpha1
kind: VideoRequest
metadata:
  name: shapes
spec:
  topic: Shapes
  planner: {mode: Template}
  render: {quality: low}
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """The last demo's state directory: a bad file must leave it alone."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "operator.log").write_text("the last demo's log\n")
    return state


def demo_of(path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["demo", str(path), "--state-dir", str(state)])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return code, err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("topic: Shapes", 'topic: "Shapes'),
            "{path}: line 6, column 10: found unexpected end of stream while scanning a quoted scalar",
        ),
        (
            GOOD + "---\n" + GOOD.replace("shapes", "circles"),
            "{path} holds 2 VideoRequests; the demo runs one (`scenefarm apply -f` takes several on a "
            "cluster of your own)",
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "{path}: expected VideoRequest"),
        (
            GOOD.replace("  name: shapes\n", "  labels: {a: b}\n"),
            "{path}: a VideoRequest without metadata.name",
        ),
        ("", "{path} holds no VideoRequest"),
    ],
    ids=["broken YAML", "two documents", "not a VideoRequest", "no name", "empty"],
)
def test_a_file_the_demo_cannot_use_is_exit_2_before_any_cluster_starts(
    tmp_path: Path, state: Path, capsys, monkeypatch, text: str, message: str
) -> None:
    def no_cluster(*_: object, **__: object) -> DevEnv:
        raise AssertionError("a cluster started for a file the demo cannot use")

    monkeypatch.setattr(demo, "DevEnv", no_cluster)
    path = tmp_path / "request.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = demo_of(path, state, capsys)
    assert code == 2
    assert err.startswith("error: " + message.format(path=path)), err
    assert (state / "operator.log").read_text() == "the last demo's log\n"


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (("quality: low", "quality: ultra"), 'spec.render.quality: Unsupported value: "ultra"'),
        (("  planner:", "  planer: {mode: Template}\n  planner:"), 'unknown field "spec.planer"'),
    ],
    ids=["a bad value", "an unknown field"],
)
def test_a_request_the_server_refuses_is_exit_4_before_the_operator_starts(
    tmp_path: Path, capsys, monkeypatch, edit: tuple[str, str], refusal: str
) -> None:
    def no_operator(self: DevEnv, *_: str) -> None:
        raise AssertionError("the operator started for a request the server refused")

    monkeypatch.setattr(DevEnv, "start_operator", no_operator)
    path = tmp_path / "request.yaml"
    path.write_text(GOOD.replace(*edit), encoding="utf-8")
    code, err = demo_of(path, tmp_path / "state", capsys)
    assert code == 4
    assert err.startswith("error: videorequest/shapes in namespace default: "), err
    assert refusal in err
