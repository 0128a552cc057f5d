"""A request the cluster cannot start, seen on the page: its reason while it is stalled, an ETA
that says "unknown", and both gone once the cluster can go on. Real operator, dev cluster, page.

The stall is a real one: the request's namespace has no artifacts claim, so the scheduler binds
no Pod; past SCENEFARM_POD_START_GRACE_SECONDS (1 s here) the operator sets Stalled=True."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import codecs
from playwright.sync_api import Browser

from scenefarm_devkit.devenv import ARTIFACT_CLAIM, RENDER_ACCOUNT
from scenefarm_devkit.web import WebStack
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.web.rows import video_row_id

from .test_web_page import Person, wait_for

pytestmark = pytest.mark.browser
NAMESPACE = "no-store"  # made without the artifacts claim the render Pods mount


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[WebStack]:
    """The web path with a short start grace: the operator names a Pod that cannot start at once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCENEFARM_POD_START_GRACE_SECONDS", "1")
        with WebStack(tmp_path_factory.mktemp("web"), dist=dist, max_scenes="2") as running:
            yield running


@pytest.fixture(scope="module")
def erin(browser: Browser, stack: WebStack, artifacts: Path) -> Iterator[Person]:
    context = browser.new_context()
    person = Person(context, stack, artifacts, "erin")
    person.sign_in_as_guest()
    yield person
    context.close()


def request(owner: str) -> dict[str, Any]:
    code = "from manim import *\n\nclass Intro(Scene):\n    def construct(self):\n        self.wait(0.2)\n"
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "stuck", "namespace": NAMESPACE},
        "spec": {
            "topic": "A request with nowhere to write",
            "scenes": [{"name": "intro", "className": "Intro", "code": code}],
            "render": {"quality": "low"},
            "output": {"store": "Volume"},
            "owner": {"appwriteUserId": owner},
        },
    }


def stalled_condition(stack: WebStack) -> dict[str, Any] | None:
    status = stack.env.client().get(VideoRequest, "stuck", namespace=NAMESPACE).get("status") or {}
    found = [c for c in status.get("conditions") or () if c["type"] == "Stalled" and c["status"] == "True"]
    return found[0] if found else None


def test_a_stalled_request_shows_its_reason_and_an_unknown_eta_until_it_moves_again(
    erin: Person, stack: WebStack
) -> None:
    client = stack.env.client()
    for obj in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": RENDER_ACCOUNT, "namespace": NAMESPACE},
        },
    ):
        client.create(codecs.from_dict(obj))
    client.create(codecs.from_dict(request(erin.user_id())))  # e.g. made with kubectl
    uid = str(client.get(VideoRequest, "stuck", namespace=NAMESPACE).metadata.uid)
    row = wait_for(lambda: stack.double.rows("scenefarm", "videos").get(video_row_id(uid)), 60, "the row")
    erin.page.goto(f"{stack.url}#/video/{row['$sequence']}")

    condition = wait_for(lambda: stalled_condition(stack), 90, "Stalled=True on the request")
    assert condition["reason"] == "PodNotStarting" and f'"{ARTIFACT_CLAIM}"' in condition["message"]
    shown = erin.page.get_by_test_id("stalled")
    shown.wait_for(timeout=30_000)
    text = shown.text_content() or ""
    assert (
        text.startswith("Stalled: PodNotStarting: ")
        and f'persistentvolumeclaim "{ARTIFACT_CLAIM}" not found' in text
    )
    assert erin.page.get_by_test_id("eta").text_content() == "Expected to finish: unknown"
    assert erin.status() == "rendering"  # in progress, not failed: it goes on once the cluster can
    assert erin.page.get_by_test_id("item-stalled").count() == 1  # the list marks it too
    assert erin.page.get_by_test_id("queue-eta").text_content() == " · stalled, ETA unknown"
    erin.screenshot("stalled")

    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": ARTIFACT_CLAIM, "namespace": NAMESPACE},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    client.create(codecs.from_dict(claim))  # the cluster can place the Pod now
    assert erin.wait_status("completed", "failed", timeout=180) == "completed"
    assert erin.page.get_by_test_id("stalled").count() == 0
    assert erin.page.get_by_test_id("item-stalled").count() == 0
    erin.screenshot("stalled-then-completed")
