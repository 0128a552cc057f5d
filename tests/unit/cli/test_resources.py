"""The CLI is its own package: it names the API from the contract and imports no operator."""

from __future__ import annotations

import subprocess
import sys

from scenefarm_cli import resources
from scenefarm_contract import keys
from scenefarm_operator.runtime import kube

FORBIDDEN = ("scenefarm_operator", "scenefarm_devkit", "prometheus_client", "kopf")


def test_the_cli_imports_no_operator_kopf_or_prometheus() -> None:
    """In a fresh interpreter: this test process has imported the operator already."""
    check = (
        "import sys, scenefarm_cli.main, scenefarm_cli.commands\n"
        "import scenefarm_cli.completion, scenefarm_cli.actions, scenefarm_cli.logs, scenefarm_cli.submit\n"
        "import scenefarm_cli.show.watch, scenefarm_cli.fetch.download, scenefarm_cli.fetch.volume\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_video_request_is_the_operators_own_class() -> None:
    assert resources.VideoRequest is kube.VideoRequest
    info = resources.VideoRequest._api_info
    assert (info.resource.group, info.resource.version, info.resource.kind) == (
        keys.GROUP,
        keys.VERSION,
        keys.KIND,
    )
    assert info.plural == keys.PLURAL
