"""`scenefarm download` and `scenefarm logs` against real renders on the dev cluster: the Volume
store through a short-lived helper Pod and an exec stream, the Appwrite store through the SDK
(the Appwrite double), each checked against the sha256 in the status."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import codecs
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv

from .cli_helpers import Ran, scenefarm
from .conftest import APPWRITE_KEY, create, status_of, video_request, wait_terminal

pytestmark = pytest.mark.integration
SECRET = "scenefarm-appwrite"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, appwrite: AppwriteDoubleThread) -> Iterator[DevEnv]:
    settings = {  # the default store stays Volume; spec.output.store: Appwrite picks the double
        "SCENEFARM_APPWRITE_ENDPOINT": appwrite.endpoint,
        "SCENEFARM_APPWRITE_PROJECT": appwrite.double.project,
        "SCENEFARM_APPWRITE_API_KEY": APPWRITE_KEY,
        "SCENEFARM_APPWRITE_CREDENTIALS_SECRET": SECRET,
    }
    with DevEnv(tmp_path_factory.mktemp("download"), operator_env=settings) as running:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": "default"},
            "data": {  # as a real API server stores it (stringData comes back as data)
                key: base64.b64encode(value.encode()).decode()
                for key, value in {
                    "endpoint": appwrite.endpoint,
                    "project": appwrite.double.project,
                    "apiKey": APPWRITE_KEY,
                    "bucket": "videos",
                }.items()
            },
        }
        running.client().create(codecs.from_dict(secret))
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def rendered(env: DevEnv) -> dict:
    """Two tiny scenes rendered for real into the Volume store."""
    create(
        env.client(), video_request("shapes", [("circle", "self.wait(0.3)"), ("square", "self.wait(0.3)")])
    )
    status = wait_terminal(env.client(), "shapes")
    assert status["phase"] == "Succeeded", status.get("message")
    return status


@pytest.fixture
def cli(env: DevEnv, tmp_path: Path):
    def run(*args: str, **kwargs) -> Ran:
        return scenefarm(*args, kubeconfig=env.kubeconfig, home=tmp_path, **kwargs)

    return run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_final_video_comes_out_of_the_volume_store_verified_and_the_helper_pod_is_gone(
    cli, env, rendered, tmp_path
) -> None:
    target = tmp_path / "out" / "shapes.mp4"
    target.parent.mkdir()
    ran = cli("download", "shapes", "-o", str(target))
    output = rendered["output"]
    assert ran.code == 0, ran.err
    assert ran.out == ""
    assert (
        ran.err
        == f"the video of shapes: {output['sizeBytes']} bytes -> {target} (sha256 verified against the status)\n"
    )
    assert sha256(target) == output["sha256"]
    assert target.read_bytes() == env.artifact_path("default", output["uri"]).read_bytes()
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind
    helpers = env.client().list(Pod, namespace="default", labels={"scenefarm.dev/role": "download"})
    assert [p.metadata.name for p in helpers if not p.metadata.deletionTimestamp] == []


def test_a_scenes_video_is_verified_against_its_render_pods_termination_message(
    cli, env, rendered, tmp_path
) -> None:
    ran = cli("download", "shapes", "--scene", "square", "-o", str(tmp_path / "square.mp4"))
    assert ran.code == 0, ran.err
    assert ran.err.endswith("(sha256 verified against the status)\n")
    artifact = next(s for s in rendered["scenes"] if s["name"] == "square")["artifact"]
    assert (tmp_path / "square.mp4").read_bytes() == env.artifact_path("default", artifact).read_bytes()


def test_download_to_standard_output_is_the_bare_video(cli, rendered, env) -> None:
    import subprocess

    from .cli_helpers import SCENEFARM

    done = subprocess.run(
        [str(SCENEFARM), "download", "shapes", "-o", "-"],
        env={"KUBECONFIG": str(env.kubeconfig), "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(done.stdout).hexdigest() == rendered["output"]["sha256"]


def test_a_video_in_the_appwrite_store_comes_out_through_the_sdk(cli, env, tmp_path) -> None:
    body = video_request("stored", [("a", "self.wait(0.3)")])
    body["spec"]["output"] = {"store": "Appwrite"}
    create(env.client(), body)
    status = wait_terminal(env.client(), "stored")
    assert status["phase"] == "Succeeded", status.get("message")
    assert status["output"]["uri"].startswith("http")
    no_key = cli("download", "stored", "-o", str(tmp_path / "x.mp4"))
    assert no_key.code == 2 and "this video is in Appwrite Storage: give an API key" in no_key.err
    ran = cli("download", "stored", "-o", str(tmp_path / "stored.mp4"), "--appwrite-secret", SECRET)
    assert ran.code == 0, ran.err
    assert sha256(tmp_path / "stored.mp4") == status["output"]["sha256"]
    by_env = cli(
        "download", "stored", "-o", str(tmp_path / "again.mp4"), env={"APPWRITE_API_KEY": APPWRITE_KEY}
    )
    assert by_env.code == 0 and sha256(tmp_path / "again.mp4") == status["output"]["sha256"]


def test_logs_read_the_combine_and_a_scene_through_the_api(cli, rendered) -> None:
    combine = cli("logs", "shapes")
    assert combine.code == 0, combine.err
    assert "combine" in combine.out
    scene = cli("logs", "shapes", "--scene", "circle", "--attempt", "1")
    assert scene.code == 0, scene.err
    missing = cli("logs", "shapes", "--scene", "circle", "--attempt", "2")
    assert (missing.code, missing.err) == (3, "error: scene 0 (circle) has no attempt 2 (attempts: 1..1)\n")


def test_no_video_yet_is_exit_3_with_how_to_follow_it(cli, env) -> None:
    body = video_request("waiting", [("a", "self.wait(0.3)")])
    body["spec"]["suspend"] = True
    create(env.client(), body)
    ran = cli("download", "waiting")
    assert ran.code == 3
    assert ran.err.startswith("error: videorequest/waiting has no video (phase ")
    assert ran.err.endswith("; follow it with: scenefarm watch waiting\n")
    assert status_of(env.client(), "waiting").get("phase") != "Succeeded"


DOWNLOADER_RULES = [  # docs/cli.md, "Getting the video out": what a user needs, and no more
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]},
    {"apiGroups": ["scenefarm.dev"], "resources": ["videorequests"], "verbs": ["get"]},
]


def grant(env: DevEnv, user: str, rules: list[dict]) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": user, "namespace": "default"},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": user, "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    env.client().create(codecs.from_dict(role))
    env.client().create(codecs.from_dict(binding))


def test_the_documented_role_is_enough_to_download_and_without_exec_the_answer_is_exit_5(
    env, rendered, tmp_path
) -> None:
    from scenefarm_devkit.apiserver.authorization import Authorizer

    grant(env, "dana", DOWNLOADER_RULES)
    grant(env, "erin", [r for r in DOWNLOADER_RULES if r["resources"] != ["pods/exec"]])
    server = env.cluster.cluster.server
    server.authorizer = Authorizer(server.store, {"dana", "erin"})
    try:
        allowed = scenefarm(
            "download",
            "shapes",
            "-o",
            str(tmp_path / "dana.mp4"),
            kubeconfig=env.cluster.kubeconfig_for("dana"),
            home=tmp_path,
        )
        refused = scenefarm(
            "download",
            "shapes",
            "-o",
            str(tmp_path / "erin.mp4"),
            kubeconfig=env.cluster.kubeconfig_for("erin"),
            home=tmp_path,
        )
    finally:
        server.authorizer = None
    assert allowed.code == 0, allowed.err
    assert sha256(tmp_path / "dana.mp4") == rendered["output"]["sha256"]
    assert refused.code == 5
    assert refused.err.startswith("error: not allowed to exec into pod/shapes-download-")
    assert not (tmp_path / "erin.mp4").exists()
    helpers = env.client().list(Pod, namespace="default", labels={"scenefarm.dev/role": "download"})
    assert [p.metadata.name for p in helpers if not p.metadata.deletionTimestamp] == []  # cleaned up anyway
