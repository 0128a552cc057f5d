"""The operator and the CLI log in as users of managed clusters do: through an exec credential plugin.

The dev cluster answers 401 to any token it did not issue or has revoked. The kubeconfigs here
hold no token at all: a plugin prints it (as `aws eks get-token`, `gke-gcloud-auth-plugin` and
`kubelogin` do). Rotating the token mid-run revokes the one the clients hold; they must run the
plugin again instead of failing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenefarm_devkit.apiserver import credentials
from scenefarm_devkit.devenv import DevEnv

from .conftest import create, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration


def cli(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEFARM_")} | {
        "KUBECONFIG": str(kubeconfig)
    }
    command = [
        sys.executable,
        "-c",
        "import sys; from scenefarm_cli.main import main; sys.exit(main())",
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_exec_plugin_kubeconfigs_carry_no_token(tmp_path: Path) -> None:
    with DevEnv(tmp_path, instant=True) as env:
        config = yaml.safe_load(credentials.exec_kubeconfig(env.cluster.cluster, "operator").read_text())
        user = config["users"][0]["user"]
        assert set(user) == {"exec"}
        assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"


def test_the_operator_and_the_cli_log_in_through_an_exec_plugin_and_survive_a_rotation(
    tmp_path: Path,
) -> None:
    with DevEnv(tmp_path, instant=True) as env:
        cluster = env.cluster.cluster
        env.operator_env["KUBECONFIG"] = str(credentials.exec_kubeconfig(cluster, "operator"))
        env.start_operator()
        admin = env.client()

        create(admin, video_request("before-rotation", [("only", "self.wait(0.2)")]))
        assert wait_terminal(admin, "before-rotation", timeout=120)["phase"] == "Succeeded"
        log = env.cluster.request_log
        assert any(r.identity == "operator" and r.verb == "create" and r.resource == "jobs" for r in log)

        credentials.rotate(cluster, "operator")  # the token the operator holds is now refused
        create(admin, video_request("after-rotation", [("only", "self.wait(0.2)")]))
        status = wait_terminal(admin, "after-rotation", timeout=120)
        assert status["phase"] == "Succeeded", status
        refused = [r for r in log if r.identity == "unknown-token" and r.status == 401]
        assert refused, "the old token was used once and refused before the plugin ran again"

        kubeconfig = credentials.exec_kubeconfig(cluster, "cli")
        submitted = cli(kubeconfig, "submit", "Exec plugin logins", "--name", "from-cli")
        assert submitted.returncode == 0, submitted.stderr
        credentials.rotate(cluster, "cli")
        wait_for(lambda: status_of(admin, "from-cli").get("phase") == "Succeeded", 120, "the CLI's request")
        shown = cli(kubeconfig, "get", "from-cli", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        body: dict[str, Any] = json.loads(shown.stdout)
        assert body["metadata"]["name"] == "from-cli"
        assert {r.identity for r in log if r.resource == "videorequests" and r.verb == "create"} >= {"cli"}
