"""The web path as deployed: the chart's web-only values set (two replicas, guests allowed, real
renders) on the dev cluster with an Appwrite double; a guest's request row becomes one
VideoRequest and a video the guest can fetch from Storage, also when the active replica is
deleted meanwhile (the row is taken once).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.tools import ensure_tool

from .conftest import CHART, CI_VALUES, wait_for

pytestmark = pytest.mark.integration

API_KEY = "deployed-web-key"  # the local double's key; never a real credential
WEB = "scenefarm-web"


def tool(env: DevEnv, name: str, *args: str) -> str:
    command = [str(ensure_tool(name)), "--kubeconfig", str(env.kubeconfig), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, f"{name} {' '.join(args)}: {done.stderr}"
    return done.stdout


class Guest:
    """A browser's anonymous session, as the page's SDK makes it."""

    def __init__(self, double: AppwriteDoubleThread) -> None:
        self.http = requests.Session()
        self.http.headers["x-appwrite-project"] = double.double.project
        self.endpoint = double.endpoint
        self.id = self.http.post(f"{self.endpoint}/account/sessions/anonymous", timeout=5).json()["userId"]

    def submit(self, topic: str) -> str:
        body = {"rowId": "unique()", "data": {"topic": topic, "status": "queued", "progress": 0}}
        answer = self.http.post(
            f"{self.endpoint}/tablesdb/scenefarm/tables/videos/rows", json=body, timeout=10
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["$id"])

    def row(self, row_id: str) -> dict[str, Any]:
        answer = self.http.get(f"{self.endpoint}/tablesdb/scenefarm/tables/videos/rows/{row_id}", timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture(scope="module")
def web_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevEnv, AppwriteDoubleThread]]:
    double = AppwriteDoubleThread(api_key=API_KEY, column_delay=0.05, anonymous_sessions=True)
    with double, DevEnv(tmp_path_factory.mktemp("deployed-web"), render_account=False) as env:
        tool(env, "kubectl", "create", "namespace", WEB)
        tool(
            env,
            "kubectl",
            "create",
            "secret",
            "generic",
            "scenefarm-appwrite-key",
            f"--from-literal=api-key={API_KEY}",
        )
        credentials = {
            "endpoint": double.endpoint,
            "project": double.double.project,
            "apiKey": API_KEY,
            "bucket": "videos",
        }
        literals = [f"--from-literal={k}={v}" for k, v in credentials.items()]
        tool(env, "kubectl", "create", "secret", "generic", "scenefarm-appwrite-render", "-n", WEB, *literals)
        tool(
            env, "helm", "install", "scenefarm", str(CHART), "-f", str(CI_VALUES / "web-only-values.yaml"),
            "--set", f"appwrite.endpoint={double.endpoint}", "--set", f"appwrite.project={double.double.project}",
            "--set", "appwrite.existingSecret=scenefarm-appwrite-key",
            "--set", "appwrite.renderCredentialsSecret=scenefarm-appwrite-render",
            "--set", "web.createNamespace=false", "--set", "web.anonymousSessions=true", "--set-json", "web.pollSeconds=0.5", "--set", "operator.replicas=2",
        )  # fmt: skip
        tool(env, "kubectl", "rollout", "status", "deployment/scenefarm", "--timeout=180s")
        yield env, double


def test_a_guests_row_becomes_one_request_and_a_video_the_guest_can_fetch(
    web_farm: tuple[DevEnv, AppwriteDoubleThread],
) -> None:
    env, double = web_farm
    active = tool(env, "kubectl", "get", "lease", "scenefarm", "-o", "jsonpath={.spec.holderIdentity}")
    guest = Guest(double)
    row_id = guest.submit("Newton's laws")
    wait_for(
        lambda: tool(env, "kubectl", "get", "vr", "-n", WEB, "-o", "name").strip(), 60, "the row's request"
    )
    tool(env, "kubectl", "delete", "pod", active, "--wait=false")  # the active replica goes mid-request
    row = wait_for(
        lambda: (r := guest.row(row_id))["status"] in ("completed", "failed") and r, 600, "the row to finish"
    )
    assert row["status"] == "completed", {k: v for k, v in row.items() if v and not k.startswith("$")}
    requests_made = tool(env, "kubectl", "get", "vr", "-n", WEB, "-o", "name").split()
    assert len(requests_made) == 1  # taken once, although the replica that took it went away
    new = tool(env, "kubectl", "get", "lease", "scenefarm", "-o", "jsonpath={.spec.holderIdentity}")
    assert new not in ("", active)
    # The combined video (a Storage file id), fetched with the guest's own session as the page does.
    file_id = row["combined_video_url"]
    assert file_id, " ".join(sorted(k for k, v in row.items() if v))
    download = guest.http.get(f"{guest.endpoint}/storage/buckets/videos/files/{file_id}/download", timeout=30)
    assert download.status_code == 200 and download.content[4:8] == b"ftyp", download.text[:200]
