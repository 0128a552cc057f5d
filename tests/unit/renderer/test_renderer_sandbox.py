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


# A renderer parent holding a secret in its environment runs a child that looks for it in the
# parent's /proc files (scene code runs as the same user, and as root on a local dev cluster).
PARENT = """
import json, os, sys
from pathlib import Path
from scenefarm_renderer.sandbox import Limits, child_environment, run_limited
work = Path(sys.argv[1])
run_limited([sys.executable, "-c", sys.argv[2]], work, child_environment(os.environ, work), Limits(deadline_seconds=60))
"""
SNOOP = """
import json, os
seen = {}
for name in ("environ", "mem", "maps", "fd/0"):
    path = f"/proc/{os.getppid()}/{name}"
    try:
        data = open(path, "rb").read(1 << 20) if name != "fd/0" else os.readlink(path).encode()
        seen[name] = "read: key" if b"the-render-key-0123" in data else "read"
    except OSError as exc:
        seen[name] = type(exc).__name__
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
seen["caps"] = [int(status[k], 16) for k in ("CapPrm", "CapEff", "CapBnd")]
seen["no_new_privs"] = status["NoNewPrivs"].strip()
print(json.dumps(seen))
"""


def test_scene_code_cannot_read_its_parents_environment_memory_or_descriptors(tmp_path: Path) -> None:
    env = {**os.environ, "APPWRITE_API_KEY": "the-render-key-0123"}  # as the Pod's env: at exec

    subprocess.run([sys.executable, "-c", PARENT, str(tmp_path), SNOOP], env=env, check=True, timeout=120)

    seen = json.loads((tmp_path / "child.log").read_text())

    assert seen["environ"] == "PermissionError"
    assert seen["mem"] == "PermissionError"
    assert seen["maps"] == "PermissionError"
    assert seen["fd/0"] == "PermissionError"
    assert seen["no_new_privs"] == "1"
    if os.geteuid() == 0:  # root keeps its uid, not its capabilities (CAP_SYS_PTRACE would read them)
        assert seen["caps"] == [0, 0, 0]


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
