"""Each scene's code as a Storage file its owner can read, under the id the row names."""

from __future__ import annotations

import pytest

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.appwrite_double.scripted import video_request
from scenefarm_operator.runtime import kube
from scenefarm_operator.web.calls import AppwriteConfig, make_client
from scenefarm_operator.web.codefiles import CodeFiles
from scenefarm_operator.web.rows import code_file_id, desired_rows
from scenefarm_operator.web.schema import ensure_schema

CODE = "from manim import *\n\nclass Intro(Scene):\n    def construct(self):\n        self.wait(1)\n"


async def test_code_revisions_are_uploaded_once_for_the_owner_under_the_rows_file_id(
    double: AppwriteDoubleThread, config: AppwriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(config)
    ensure_schema(client, config.database, config.bucket, poll_seconds=0.01)
    reads: list[str] = []

    async def read_configmap(namespace: str, name: str) -> dict[str, str]:
        reads.append(f"{namespace}/{name}")
        return {"scene-00.r1.py": CODE, "scene-00.r2.py": CODE + "# healed\n"}

    monkeypatch.setattr(kube, "read_configmap", read_configmap)
    body = video_request()
    body["status"] = {
        "phase": "Rendering",
        "scenes": [{"index": 0, "name": "intro", "phase": "Running", "revision": 2}],
    }
    files = CodeFiles(config, client=client)
    for _ in range(3):  # every status change observes; one upload
        files.observe(body)
    await files.settle()
    fid = code_file_id(body["metadata"], 0, 2)
    assert desired_rows(body)[1].data["code_url"] == fid
    stored = double.call(lambda: double.double.storage.files[("videos", fid)])
    assert stored.content().endswith(b"# healed\n")
    assert stored.permissions == ['read("user:user-42")']
    assert reads == ["default/newton-plan"]
    files.observe(body)
    assert not files.busy  # known as uploaded: nothing more to do
    await files.stop()
