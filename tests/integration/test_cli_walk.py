"""The CLI walk of issue 25 against the dev cluster in instant mode (Jobs end at once; a scene
class named `Flaky<N>` fails before attempt N): edit-then-`apply --wait` waits for the new
attempt, strict `apply` refuses an unknown field, `--dry-run=server` stores nothing, `delete`,
`resubmit`, a batch from a topics file, hints that keep `-n`, and Ctrl-C in `watch` under a
pseudo-terminal leaving the last state on the screen."""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from lightkube import codecs

from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.runtime.kube import VideoRequest

from .cli_helpers import BIN, SCENEFARM, Ran, scenefarm
from .conftest import status_of, video_request, wait_terminal

pytestmark = pytest.mark.integration
FLAKY = "from manim import *\n\n\nclass Flaky9(Scene):\n    def construct(self):\n        self.wait(0.2)\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    with DevEnv(tmp_path_factory.mktemp("walk"), instant=True) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def kubeconfig(env: DevEnv) -> Path:
    return Path(env.cluster.kubeconfig_for("bob"))


@pytest.fixture
def cli(kubeconfig: Path, tmp_path: Path):
    def run(*args: str, **kwargs) -> Ran:
        kwargs.setdefault("kubeconfig", kubeconfig)
        return scenefarm(*args, home=tmp_path, **kwargs)

    return run


def write(path: Path, body: dict) -> Path:
    path.write_text(yaml.safe_dump(body))
    return path


def test_apply_wait_after_an_edit_waits_for_the_new_attempt_and_prints_its_result(cli, env, tmp_path) -> None:
    body = video_request("edited", [("intro", "self.wait(0.2)"), ("broken", "self.wait(0.2)")])
    body["spec"]["scenes"][1] |= {"className": "Flaky9", "code": FLAKY}
    body["spec"]["render"]["fixAttempts"] = 0
    first = cli("apply", "-f", str(write(tmp_path / "v1.yaml", body)), "--wait", "--timeout", "120")
    assert first.code == 1, first.out + first.err
    assert any(line.startswith("edited: Failed: ") for line in first.out.splitlines())
    # The fix: the broken scene's class no longer fails. The old result (Failed, generation 1) is
    # what the server holds when apply returns; --wait must not report it.
    fixed = FLAKY.replace("Flaky9", "Fixed")
    body["spec"]["scenes"][1] |= {"className": "Fixed", "code": fixed}
    second = cli("apply", "-f", str(write(tmp_path / "v2.yaml", body)), "--wait", "--timeout", "120")
    assert second.code == 0, second.out + second.err
    lines = second.out.splitlines()
    assert lines[0] == "videorequest/edited configured"
    assert not any(": Failed" in line for line in lines), lines
    assert lines[-1] == "edited: download it with: scenefarm download edited -o edited.mp4"
    status = status_of(env.client(), "edited")
    assert status["observedGeneration"] == 2 and status["phase"] == "Succeeded"
    assert status["scenes"][1]["phase"] == "Succeeded"


def test_strict_apply_refuses_an_unknown_field_and_a_server_dry_run_stores_nothing(cli, tmp_path) -> None:
    body = video_request("strict", [("intro", "self.wait(0.2)")])
    body["spec"]["planer"] = {"mode": "Template"}
    refused = cli("apply", "-f", str(write(tmp_path / "typo.yaml", body)))
    assert refused.code == 4 and refused.out == ""
    assert 'unknown field "spec.planer"' in refused.err
    assert cli("get", "strict").code == 3  # nothing was created
    del body["spec"]["planer"]
    dry = cli("apply", "-f", str(write(tmp_path / "ok.yaml", body)), "--dry-run=server")
    assert (dry.code, dry.out) == (0, "videorequest/strict created (server dry run)\n")
    assert cli("get", "strict").code == 3
    assert cli("apply", "-f", str(tmp_path / "ok.yaml")).out == "videorequest/strict created\n"
    body["spec"]["planer"] = {"mode": "Template"}  # an update with a typo is refused as well
    again = cli("apply", "-f", str(write(tmp_path / "typo.yaml", body)))
    assert again.code == 4 and 'unknown field "spec.planer"' in again.err


def test_submit_takes_a_request_file_a_description_file_and_a_priority(cli, env, tmp_path) -> None:
    body = video_request("from-file", [("intro", "self.wait(0.2)")])
    made = cli("submit", "-f", str(write(tmp_path / "request.yaml", body)))
    assert (made.code, made.out) == (0, "videorequest/from-file created\n")
    (tmp_path / "points.txt").write_text("Force is mass times acceleration.\n")
    ran = cli("submit", "Second law", "--description-file", str(tmp_path / "points.txt"), "--priority", "7")
    assert ran.code == 0, ran.err
    spec = env.client().get(VideoRequest, "second-law", namespace="default")["spec"]
    assert spec["description"] == "Force is mass times acceleration." and spec["priority"] == 7
    wide = cli("get", "second-law", "-o", "wide")
    assert wide.out.splitlines()[0].split()[-5:] == ["PRIORITY", "BATCH", "CURRENT", "VIDEO", "POSTER"]
    header, row = (line.split() for line in wide.out.splitlines()[:2])
    assert row[header.index("PRIORITY")] == "7"  # (an ETA column comes and goes before it)


def test_delete_waits_until_the_request_is_gone(cli, env) -> None:
    assert cli("submit", "Short lived").code == 0
    wait_terminal(env.client(), "short-lived")
    ran = cli("delete", "short-lived")
    assert (ran.code, ran.out, ran.err) == (0, "videorequest/short-lived deleted\n", "")
    assert cli("get", "short-lived").code == 3
    missing = cli("delete", "short-lived")
    assert missing.code == 3 and "videorequest/short-lived in namespace default not found" in missing.err


def test_a_cancelled_request_is_resubmitted_under_a_new_name(cli, env) -> None:
    assert cli("submit", "Held again").code == 0
    assert cli("cancel", "held-again").code == 0
    ran = cli("resubmit", "held-again", "--wait", "--timeout", "120")
    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == "videorequest/held-again-2 created"
    spec = env.client().get(VideoRequest, "held-again-2", namespace="default")["spec"]
    assert spec["topic"] == "Held again" and not spec.get("cancel")
    named = cli("resubmit", "held-again", "--as", "held-third")
    assert named.out == "videorequest/held-third created\n"


def test_a_batch_from_a_topics_file_is_labelled_and_summarised(cli, env, tmp_path) -> None:
    topics = tmp_path / "week.txt"
    topics.write_text("# physics\nOhm's law\nHooke's law\n\nSnell's law\n")
    ran = cli("submit", "--from", str(topics))
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [
        "videorequest/ohms-law created",
        "videorequest/hookes-law created",
        "videorequest/snells-law created",
        "batch week: 3 requests; see them with: scenefarm get --batch week",
    ]
    for name in ("ohms-law", "hookes-law", "snells-law"):
        wait_terminal(env.client(), name)
    listed = cli("get", "--batch", "week")
    lines = listed.out.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["hookes-law", "ohms-law", "snells-law"]
    assert lines[4].startswith("batch week: 3 requests: 3 Succeeded; ")
    by_label = cli("get", "-l", "scenefarm.dev/batch=week", "-o", "name")
    assert len(by_label.out.splitlines()) == 3
    again = cli("submit", "--from", str(topics))
    assert again.code == 4 and "Nothing was created." in again.err


def test_printed_follow_up_commands_keep_the_namespace(cli, env) -> None:
    assert cli("-n", "default", "submit", "Kept namespace").code == 0
    wait_terminal(env.client(), "kept-namespace")
    ran = cli("watch", "kept-namespace", "-n", "default")
    assert ran.out.splitlines()[-1] == (
        "kept-namespace: download it with: scenefarm -n default download kept-namespace -o kept-namespace.mp4"
    )


def test_ctrl_c_in_watch_leaves_the_last_state_and_says_it_keeps_going(kubeconfig, env, tmp_path) -> None:
    held = video_request("paused", [("intro", "self.wait(0.2)")], suspend=True)
    env.client().create(codecs.from_dict(held))
    environment = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBECONFIG": str(kubeconfig),
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "30",
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: `scenefarm watch paused` on the terminal
        os.execve(str(SCENEFARM), [str(SCENEFARM), "watch", "paused"], environment)
    screen = b""

    def read_until(needle: bytes, timeout: float) -> bytes:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while needle not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
        return screen

    assert b"Suspended" in read_until(b"Suspended", 60), screen
    before = len(screen)
    os.write(fd, b"\x03")  # Ctrl-C, as typed: the terminal sends SIGINT to the watch
    read_until(b"keeps going in the cluster", 30)
    _, code = os.waitpid(pid, 0)
    after = screen[before:].decode(errors="replace")
    assert os.waitstatus_to_exitcode(code) == 130
    assert "paused" in after and "Suspended" in after  # the last state, drawn again, stays
    assert "videorequest/paused keeps going in the cluster. Follow it again with: scenefarm watch paused" in (
        after.replace("\r\n", " ").replace("\n", " ")
    )
    assert status_of(env.client(), "paused").get("phase") == "Suspended"


def test_get_watch_prints_a_row_for_each_change_until_ctrl_c(kubeconfig, env, tmp_path) -> None:
    import signal
    import subprocess
    import threading

    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    watching = subprocess.Popen(
        [str(SCENEFARM), "get", "-w", "-l", "scenefarm.dev/batch=watched"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    succeeded = threading.Event()

    def read() -> None:
        for line in watching.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.split()[:2] == ["watched-one", "Succeeded"]:
                succeeded.set()

    threading.Thread(target=read, daemon=True).start()
    (tmp_path / "watched.txt").write_text("Watched one\n")
    assert (
        scenefarm(
            "submit", "--from", str(tmp_path / "watched.txt"), kubeconfig=kubeconfig, home=tmp_path
        ).code
        == 0
    )
    assert succeeded.wait(120), lines
    watching.send_signal(signal.SIGINT)
    assert watching.wait(30) == 0
    rows = [line.split()[:4] for line in lines]  # NAME PHASE PROGRESS SCENES: AGE and ETA tick on
    assert rows[0] == ["NAME", "PHASE", "PROGRESS", "SCENES"]  # the header, also when nothing matched yet
    assert rows[-1][:2] == ["watched-one", "Succeeded"]
    # a line per change, not per event
    assert all(rows[i] != rows[i + 1] for i in range(len(rows) - 1)), lines
