"""The user CLI against the dev cluster in instant mode (Jobs succeed at once: rendering is not
the point here): submit, apply, get, watch, actions, errors, namespaces, the kubectl plugin and
completion, each run as a subprocess without a terminal, as a script or CI job would."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from lightkube import codecs

from scenefarm_contract.renderer import artifact_prefix
from scenefarm_devkit.apiserver.authorization import Authorizer
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.tools import ensure_tool
from scenefarm_operator.runtime.kube import VideoRequest

from .cli_helpers import BIN, Ran, scenefarm
from .conftest import EXAMPLES, wait_for, wait_terminal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    with DevEnv(tmp_path_factory.mktemp("cli"), instant=True) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def alice(env: DevEnv) -> Path:
    """A kubeconfig of its own, so the request log tells the CLI's requests apart."""
    return Path(env.cluster.kubeconfig_for("alice"))


@pytest.fixture
def cli(alice: Path, tmp_path: Path):
    def run(*args: str, **kwargs) -> Ran:
        kwargs.setdefault("kubeconfig", alice)
        return scenefarm(*args, home=tmp_path, **kwargs)

    return run


def uid_prefix(env: DevEnv, name: str, namespace: str = "default") -> str:
    uid = str(env.client().get(VideoRequest, name, namespace=namespace).metadata.uid)
    return artifact_prefix(namespace, name, uid)


def test_submit_names_the_request_from_its_topic_and_refuses_the_same_topic_twice(cli, env) -> None:
    first = cli(
        "submit", "Newton's laws", "--description", "A body stays at rest. Force is mass times acceleration."
    )
    assert (first.code, first.out, first.err) == (0, "videorequest/newtons-laws created\n", "")
    second = cli("submit", "Newton's laws")
    assert second.code == 4 and second.out == ""
    assert second.err.startswith(
        'error: videorequest/newtons-laws already exists (topic "Newton\'s laws", phase '
    )
    assert second.err.endswith(
        "See it with `scenefarm get newtons-laws`, or submit under another name with --name.\n"
    )
    assert wait_terminal(env.client(), "newtons-laws")["phase"] == "Succeeded"


def test_watch_without_a_terminal_prints_plain_lines_verbatim(cli, env) -> None:
    assert cli("submit", "Plain output", "--description", "One point.").code == 0
    wait_terminal(env.client(), "plain-output")
    ran = cli("watch", "plain-output")
    prefix = uid_prefix(env, "plain-output")
    assert ran.code == 0 and ran.err == ""
    assert ran.out == (
        "plain-output: Succeeded (3/3 scenes done)\n"
        "plain-output: scene 0 title: Succeeded\n"
        "plain-output: scene 1 point-1: Succeeded\n"
        "plain-output: scene 2 closing: Succeeded\n"
        "plain-output: combine: Succeeded\n"
        f"plain-output: video {prefix}/video.mp4 (1.0 s, 0 bytes)\n"
        "plain-output: download it with: scenefarm download plain-output -o plain-output.mp4\n"
    )
    assert "\x1b[" not in ran.out  # no colour, no cursor movement


def test_submit_wait_follows_a_kubernetes_watch_instead_of_polling(cli, env) -> None:
    log = env.cluster.request_log
    before = len(log.records)
    ran = cli("submit", "Watched closely", "--wait", "--timeout", "120")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0] == "videorequest/watched-closely created"
    assert lines[-2].startswith("watched-closely: video ")
    assert "watched-closely: Succeeded (2/2 scenes done)" in lines

    def verbs() -> list[str]:
        records = list(log.records)[before:]
        return [r.verb for r in records if r.identity == "alice" and r.resource == "videorequests"]

    # A request is logged when the server has finished it: the watch's, just after the CLI closed it.
    wait_for(lambda: "watch" in verbs(), 60, "the CLI's watch in the request log")
    seen = verbs()
    assert seen.count("watch") == 1
    assert seen.count("get") <= 2  # the name check before create, and the first state: no polling


def test_get_prints_a_table_json_for_scripts_and_a_clear_error_for_an_unknown_name(cli) -> None:
    table = cli("get")
    header, *rows = table.out.splitlines()
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "SCENES", "AGE"]
    assert next(r.split()[:4] for r in rows if r.startswith("newtons-laws")) == [
        "newtons-laws",
        "Succeeded",
        "100%",
        "4/4",
    ]
    one = json.loads(cli("get", "newtons-laws", "-o", "json").out)
    assert one["kind"] == "VideoRequest" and one["status"]["phase"] == "Succeeded"
    listed = yaml.safe_load(cli("list", "-o", "yaml").out)
    assert listed["kind"] == "List" and "newtons-laws" in {i["metadata"]["name"] for i in listed["items"]}
    missing = cli("get", "nope")
    assert (missing.code, missing.out, missing.err) == (
        3,
        "",
        "error: videorequest/nope in namespace default not found\n",
    )
    for command in (["watch", "nope"], ["download", "nope"], ["logs", "nope"], ["retry", "nope"]):
        ran = cli(*command)
        assert (ran.code, ran.err) == (3, "error: videorequest/nope in namespace default not found\n"), (
            command
        )


def test_a_cancelled_request_refuses_resume_and_retry_with_the_reason(cli, env, tmp_path) -> None:
    manifest = tmp_path / "held.yaml"
    manifest.write_text(
        "apiVersion: scenefarm.dev/v1alpha1\nkind: VideoRequest\nmetadata: {name: held}\n"
        "spec: {topic: Held back, suspend: true}\n"
    )
    assert cli("apply", "-f", str(manifest)).out == "videorequest/held created\n"
    assert cli("apply", "-f", str(manifest)).out == "videorequest/held unchanged\n"
    cancelled = cli("cancel", "held")
    assert cancelled.code == 0
    assert (
        cancelled.out
        == "videorequest/held: cancel requested: every Job stops and the request ends Cancelled (final)\n"
    )
    for action, verb in (("resume", "resumed"), ("retry", "retried"), ("suspend", "suspended")):
        ran = cli(action, "held")
        assert (ran.code, ran.out) == (4, "")
        assert ran.err == (
            f"error: videorequest/held was cancelled, and Cancelled is final: it cannot be {verb}. "
            "Render it again under a new name with: scenefarm resubmit held\n"
        )
    assert cli("cancel", "held").out == "videorequest/held is already cancelled\n"
    spec = env.client().get(VideoRequest, "held", namespace="default")["spec"]
    assert spec["suspend"] is True and spec["cancel"] is True  # nothing was sent for the refused actions


def test_without_permission_the_answer_is_exit_5_and_the_servers_reason(cli, env) -> None:
    server = env.cluster.cluster.server
    server.authorizer = Authorizer(server.store, {"mallory"})
    viewer = Path(env.cluster.kubeconfig_for("mallory"))
    try:
        ran = cli("get", "newtons-laws", kubeconfig=viewer)
        submitted = cli("submit", "Not allowed", kubeconfig=viewer)
    finally:
        server.authorizer = None
    assert (ran.code, ran.out) == (5, "")
    assert ran.err.startswith("error: not allowed: ") and "mallory" in ran.err and "videorequests" in ran.err
    assert submitted.code == 5


def test_namespace_comes_from_the_flag_or_the_kubeconfig_context(cli, env, alice, tmp_path) -> None:
    env.client().create(
        codecs.from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "videos"}})
    )
    assert cli("submit", "Elsewhere", "-n", "videos").out == "videorequest/elsewhere created\n"
    assert cli("get", "elsewhere").code == 3
    assert cli("get", "elsewhere", "-n", "videos").code == 0
    config = yaml.safe_load(alice.read_text())
    config["contexts"][0]["context"]["namespace"] = "videos"
    in_videos = tmp_path / "kubeconfig-videos"
    in_videos.write_text(yaml.safe_dump(config))
    assert cli("get", "-o", "name", kubeconfig=in_videos).out == "videorequest/elsewhere\n"
    assert cli("get", "elsewhere", "--kubeconfig", str(in_videos), kubeconfig=None).code == 0
    unknown = cli("get", "--context", "nope")
    assert unknown.code == 6 and unknown.err.startswith("error: no context nope in ")


def test_kubectl_runs_it_as_a_plugin(alice, env, tmp_path) -> None:
    wait_terminal(env.client(), "newtons-laws")
    done = subprocess.run(
        [str(ensure_tool("kubectl")), "scenefarm", "watch", "newtons-laws"],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(alice)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "newtons-laws: Succeeded (4/4 scenes done)"
    assert (
        lines[-1]
        == "newtons-laws: download it with: kubectl scenefarm download newtons-laws -o newtons-laws.mp4"
    )


def test_bash_completion_offers_the_clusters_request_names(alice, tmp_path) -> None:
    script = f'source <("{BIN}/scenefarm" completion bash) && _scenefarm_requests newt'
    done = subprocess.run(
        ["bash", "-c", script],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(alice)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["newtons-laws"]


def test_no_cluster_is_exit_6_with_where_it_looked(cli, tmp_path) -> None:
    ran = cli("get", kubeconfig=None, env={"KUBECONFIG": str(tmp_path / "absent")})
    assert ran.code == 6
    assert ran.err.startswith("error: no usable kubeconfig") and "scenefarm dev up" in ran.err
    assert os.linesep not in ran.err.rstrip("\n")


def test_watch_follows_several_requests_and_fails_when_one_did_not_succeed(cli, env) -> None:
    wait_terminal(env.client(), "newtons-laws")
    ran = cli("watch", "newtons-laws", "held", "--timeout", "60")
    assert ran.code == 1
    lines = ran.out.splitlines()
    assert lines[0] == "newtons-laws: Succeeded (4/4 scenes done)"
    assert any(line.startswith("held: Cancelled: ") for line in lines)


def on_a_terminal(alice: Path, home: Path, command: str, **env: str) -> str:
    """Run `command` on a pseudo-terminal (util-linux `script`), 40 columns wide."""
    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(alice)}
    environment |= {"TERM": "xterm-256color", "COLUMNS": "40", "LINES": "24"} | env
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        env=environment,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout.decode()


def test_on_a_terminal_watch_draws_in_colour_but_never_breaks_a_path(alice, env, tmp_path) -> None:
    wait_terminal(env.client(), "newtons-laws")
    prefix = uid_prefix(env, "newtons-laws")
    drawn = on_a_terminal(alice, tmp_path, f"{BIN}/scenefarm watch newtons-laws")
    assert "\x1b[" in drawn
    assert f"newtons-laws: video {prefix}/video.mp4 (1.0 s, 0 bytes)" in drawn  # 40 columns, one line
    plain = on_a_terminal(alice, tmp_path, f"{BIN}/scenefarm watch newtons-laws", NO_COLOR="1")
    assert "\x1b[" not in plain
    assert plain.split("\r\n")[0] == "newtons-laws: Succeeded (4/4 scenes done)"


def test_apply_wait_follows_an_existing_manifest_to_its_video(cli, tmp_path) -> None:
    manifest = yaml.safe_load((EXAMPLES / "template-planner.yaml").read_text())
    manifest["metadata"]["name"] = "from-a-file"  # the example's own name is taken by an earlier test
    (tmp_path / "example.yaml").write_text(yaml.safe_dump(manifest))
    ran = cli("apply", "-f", str(tmp_path / "example.yaml"), "--wait", "--timeout", "120")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0] == "videorequest/from-a-file created"
    assert lines[-1] == "from-a-file: download it with: scenefarm download from-a-file -o from-a-file.mp4"


def test_a_watch_the_server_refuses_for_a_moment_is_resumed(cli, env) -> None:
    from scenefarm_devkit.apiserver.faults import FaultRule

    rule = FaultRule(verbs={"watch"}, status=503, identities={"alice"}, resources={"videorequests"}, limit=2)
    env.cluster.faults.append(rule)
    try:
        ran = cli("submit", "Interrupted", "--wait", "--timeout", "120")
    finally:
        env.cluster.faults.remove(rule)
    assert rule.fired == 2
    assert ran.code == 0, ran.err
    assert (
        ran.out.splitlines()[-1]
        == "interrupted: download it with: scenefarm download interrupted -o interrupted.mp4"
    )
