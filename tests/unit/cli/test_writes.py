"""`scenefarm submit` and `apply` against the dev kit's API server (in-process, no operator): what
they print and how they fail, as a user sees it (stdout, one `error:` line on stderr, exit code)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status, StatusDetails

from scenefarm_cli import main as cli
from scenefarm_cli.errors import NotFound, from_api
from scenefarm_devkit.apiserver import DevClusterThread
from scenefarm_devkit.data import crd_path

REQUEST = """\
apiVersion: scenefarm.dev/v1alpha1
kind: VideoRequest
metadata:
  name: {name}{labels}
spec:
  topic: {topic}
  planner: {{mode: Template}}
  render: {{quality: low}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevClusterThread]:
    with DevClusterThread(tmp_path_factory.mktemp("writes"), crds=[crd_path()]) as running:
        yield running


@pytest.fixture
def run(cluster: DevClusterThread, capsys: pytest.CaptureFixture[str]):
    kubeconfig = str(cluster.kubeconfig_for("admin"))

    def scenefarm(*args: str) -> tuple[int, str, str]:
        code = cli.main([*args, "--kubeconfig", kubeconfig])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return scenefarm


def request_file(path: Path, name: str, topic: str = "Ohm's law", labels: str = "") -> Path:
    path.write_text(REQUEST.format(name=name, topic=topic, labels=labels), encoding="utf-8")
    return path


def test_a_missing_namespace_is_named_as_such_not_as_a_missing_request(run, tmp_path: Path) -> None:
    assert run("submit", "Ohm's law", "-n", "nosuchns") == (3, "", "error: namespace nosuchns not found\n")
    ok = request_file(tmp_path / "ok.yaml", "ohms-law")
    assert run("apply", "-f", str(ok), "-n", "nosuchns") == (3, "", "error: namespace nosuchns not found\n")
    missing = run("get", "nope")  # a missing request in a namespace that exists says so, as before
    assert missing == (3, "", "error: videorequest/nope in namespace default not found\n")


def test_a_404_names_the_namespace_from_the_details_or_the_message() -> None:
    def answer(message: str, details: StatusDetails | None) -> str:
        error = ApiError(status=Status(code=404, reason="NotFound", message=message, details=details))
        translated = from_api(error, "videorequest/x in namespace gone")
        assert isinstance(translated, NotFound)
        return str(translated)

    assert answer('namespaces "gone" not found', StatusDetails(kind="namespaces", name="gone")) == (
        "namespace gone not found"
    )
    assert answer('namespaces "gone" not found', None) == "namespace gone not found"
    in_it = StatusDetails(kind="videorequests", name="x")  # the object is missing, not the namespace
    assert (
        answer('videorequests.scenefarm.dev "x" not found', in_it)
        == "videorequest/x in namespace gone not found"
    )


def test_apply_says_created_then_unchanged_and_configured_only_for_a_change(
    run, cluster, tmp_path: Path
) -> None:
    path = request_file(tmp_path / "ok.yaml", "kirchhoff")
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff created\n", "")
    # the stored spec carries the server's defaults (render.parallelism, suspend, ...): still unchanged
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff unchanged\n", "")
    assert run("apply", "-f", str(path), "--dry-run=server") == (
        0,
        "videorequest/kirchhoff unchanged (server dry run)\n",
        "",
    )
    request_file(path, "kirchhoff", topic="Kirchhoff's laws")
    assert run("apply", "-f", str(path), "--dry-run=server") == (
        0,
        "videorequest/kirchhoff configured (server dry run)\n",
        "",
    )
    stored = cluster.get_object("videorequests", "default", "kirchhoff", "scenefarm.dev")
    assert stored is not None and stored["metadata"]["generation"] == 1  # the dry run stored nothing
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff configured\n", "")
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff unchanged\n", "")
    # a label is a change too, though the generation stays
    request_file(path, "kirchhoff", topic="Kirchhoff's laws", labels="\n  labels: {course: circuits}")
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff configured\n", "")
    assert run("apply", "-f", str(path)) == (0, "videorequest/kirchhoff unchanged\n", "")
    stored = cluster.get_object("videorequests", "default", "kirchhoff", "scenefarm.dev")
    assert stored is not None and stored["metadata"]["labels"] == {"course": "circuits"}


def test_apply_still_refuses_a_misspelt_field_when_the_rest_is_unchanged(run, tmp_path: Path) -> None:
    path = request_file(tmp_path / "ok.yaml", "snell")
    assert run("apply", "-f", str(path))[0] == 0
    path.write_text(path.read_text() + "  planer: {mode: Template}\n")
    code, out, err = run("apply", "-f", str(path))
    assert (code, out) == (4, "")
    assert 'unknown field "spec.planer"' in err and len(err.splitlines()) == 1


def test_o_name_prints_the_kind_and_name_as_get_does(run, tmp_path: Path) -> None:
    assert run("submit", "Hooke's law", "-o", "name") == (0, "videorequest/hookes-law\n", "")
    assert run("get", "hookes-law", "-o", "name") == (0, "videorequest/hookes-law\n", "")
    path = request_file(tmp_path / "ok.yaml", "coulomb")
    assert run("apply", "-f", str(path), "-o", "name") == (0, "videorequest/coulomb\n", "")


def test_a_name_over_253_characters_is_refused_for_its_length(run) -> None:
    code, out, err = run("submit", "Ohm's law", "--name", "a" * 254)
    assert (code, out) == (2, "")
    assert err == (
        "error: the name aaaaaaaaaaaaaaaaaaaa... is 254 characters long: "
        "a VideoRequest's name is at most 253 characters\n"
    )
    assert run("submit", "Ohm's law", "--name", "a" * 253, "--dry-run=server")[0] == 0


def test_invalid_yaml_is_one_line_naming_the_file_line_and_column(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(REQUEST.format(name="bad", topic='"unterminated', labels="").split("  planner")[0])
    for command in (["apply", "-f"], ["submit", "-f"], ["submit", "--from"]):
        assert run(*command, str(bad)) == (
            2,
            "",
            f"error: {bad}: line 6, column 10: found unexpected end of stream while scanning a quoted scalar\n",
        ), command


def test_what_submit_o_name_prints_is_a_name_every_command_takes(run, capsys) -> None:
    code, printed, _ = run("submit", "Kepler's laws", "-o", "name")
    assert code == 0 and printed == "videorequest/keplers-laws\n"

    code, shown, err = run("get", printed.strip(), "-o", "name")
    assert (code, shown, err) == (0, "videorequest/keplers-laws\n", "")
    assert run("get", "vr/keplers-laws", "-o", "name")[1] == "videorequest/keplers-laws\n"
    with pytest.raises(SystemExit) as refused:  # a usage error, as argparse ends one
        run("get", "job/keplers-laws")
    assert refused.value.code == 2
    assert "'job/keplers-laws': scenefarm takes VideoRequests" in capsys.readouterr().err
