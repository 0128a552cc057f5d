"""The limited child process: scrubbed environment, own directory, whole group killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from scenefarm_renderer.sandbox import Limits, child_environment, run_limited


def test_the_child_environment_keeps_only_allowlisted_variables(tmp_path: Path) -> None:
    environ = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "APPWRITE_API_KEY": "secret",
        "GEMINI_API_KEY": "secret",
    }

    env = child_environment(environ, tmp_path)

    assert "secret" not in env.values()
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "C.UTF-8"
    for var in ("HOME", "TMPDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        assert Path(env[var]).is_dir() and Path(env[var]).is_relative_to(tmp_path)


def test_the_child_runs_in_its_directory_with_that_environment(tmp_path: Path) -> None:
    env = child_environment({"PATH": os.environ["PATH"], "GEMINI_API_KEY": "secret"}, tmp_path)
    script = "import json, os; print(json.dumps([os.getcwd(), dict(os.environ)]))"

    outcome = run_limited([sys.executable, "-c", script], tmp_path, env, Limits(deadline_seconds=30))

    cwd, seen = json.loads((tmp_path / "child.log").read_text())
    assert outcome.returncode == 0 and not outcome.timed_out
    assert cwd == str(tmp_path)
    assert "GEMINI_API_KEY" not in seen


def test_the_deadline_kills_the_whole_process_group(tmp_path: Path) -> None:
    env = child_environment(os.environ, tmp_path)
    pid_file = tmp_path / "grandchild.pid"
    script = f"sleep 300 & echo $! > {pid_file}; wait"

    outcome = run_limited(["sh", "-c", script], tmp_path, env, Limits(deadline_seconds=1))

    assert outcome.timed_out and outcome.signal == signal.SIGKILL
    grandchild = int(pid_file.read_text())
    assert not process_alive(grandchild)


def process_alive(pid: int) -> bool:
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_the_cpu_limit_ends_a_busy_child_with_sigxcpu(tmp_path: Path) -> None:
    env = child_environment(os.environ, tmp_path)

    outcome = run_limited([sys.executable, "-c", "while True: pass"], tmp_path, env, Limits(cpu_seconds=1))

    assert outcome.signal == signal.SIGXCPU


def test_the_file_size_limit_stops_a_huge_write(tmp_path: Path) -> None:
    env = child_environment(os.environ, tmp_path)
    script = "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); open('big', 'wb').write(b'x' * 3_000_000)"

    outcome = run_limited([sys.executable, "-c", script], tmp_path, env, Limits(file_mib=1))

    assert outcome.signal == signal.SIGXFSZ
    assert (tmp_path / "big").stat().st_size <= 1024 * 1024
