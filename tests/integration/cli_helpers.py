"""Running `scenefarm` (and `kubectl scenefarm`) as a person would: a subprocess, no terminal."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
SCENEFARM = BIN / "scenefarm"


@dataclasses.dataclass
class Ran:
    code: int
    out: str
    err: str


def scenefarm(
    *args: str,
    kubeconfig: Path | None,
    home: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> Ran:
    """Run the CLI without a terminal (stdout and stderr are pipes), as a script would."""
    environment = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "COLUMNS": "80",  # paths longer than this must still come out on one line
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    if kubeconfig is not None:
        environment["KUBECONFIG"] = str(kubeconfig)
    environment |= dict(env or {})
    done = subprocess.run(
        [str(SCENEFARM), *args], capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )
    return Ran(done.returncode, done.stdout, done.stderr)
