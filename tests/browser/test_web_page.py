"""A person in a browser: signs in, asks for "Newton's laws", follows every scene live over
Realtime (through a reload and a dropped socket), downloads the video, reads a failing scene's
message, cancels; a second person sees none of it. Real Web SDK, real operator, real renders."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import av
import pytest
from lightkube import codecs
from playwright.sync_api import Browser, BrowserContext, Page, Request

from scenefarm_devkit.web import NAMESPACE, WebStack
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.web.rows import video_row_id

pytestmark = pytest.mark.browser
ROW_READS = re.compile(r"/v1/tablesdb/[^/]+/tables/[^/]+/rows(/[^/?]+)?(\?|$)")
T = TypeVar("T")


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Person:
    """One browser profile on the page, with the row reads it made since its last page load."""

    def __init__(self, context: BrowserContext, stack: WebStack, artifacts: Path, name: str) -> None:
        self.context, self.stack, self.artifacts, self.name = context, stack, artifacts, name
        self.page: Page = context.new_page()
        self.row_reads: list[str] = []
        self.console: list[str] = []
        self.page.on("request", self.saw)
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))

    def saw(self, request: Request) -> None:
        if request.method == "GET" and ROW_READS.search(request.url):
            self.row_reads.append(request.url)

    def open(self, hash_: str = "") -> None:
        self.page.goto(self.stack.url + hash_)

    def sign_in_as_guest(self) -> None:
        self.open()
        self.page.get_by_test_id("guest").click()
        self.wait_following()

    def sign_up(self, email: str, password: str) -> None:
        self.open()
        self.page.get_by_test_id("email").fill(email)
        self.page.get_by_test_id("password").fill(password)
        self.page.get_by_test_id("sign-up-button").click()
        self.wait_following()

    def wait_following(self) -> None:
        try:
            self.page.wait_for_selector("body[data-following=true]", state="attached", timeout=30_000)
        except Exception as error:
            raise AssertionError(f"the page did not start following: {self.console}") from error
        self.row_reads.clear()  # what the first load listed; from here on only Realtime

    def user_id(self) -> str:
        return str(self.page.get_by_test_id("who").get_attribute("data-user-id"))

    def submit(self, topic: str) -> str:
        self.page.get_by_test_id("topic").fill(topic)
        self.page.get_by_test_id("planner").select_option("Template")
        self.page.get_by_test_id("quality").select_option("low")
        self.page.get_by_test_id("submit").click()
        return (self.page.get_by_test_id("tracking-id").text_content(timeout=10_000) or "").lstrip("#")

    def row_id(self) -> str:
        """The selected video's row id: in the page's own DOM only, never shown or in the URL."""
        return str(self.page.get_by_test_id("video").get_attribute("data-id", timeout=10_000))

    def status(self) -> str:
        return self.page.get_by_test_id("video-status").text_content(timeout=5_000) or ""

    def wait_status(self, *wanted: str, timeout: float = 180) -> str:
        return wait_for(lambda: (s := self.status()) in wanted and s, timeout, f"status {wanted}")

    def shown(self) -> list[dict[str, Any]]:
        """Every row change the page rendered since it loaded (kept by the page for tests)."""
        return list(self.page.evaluate("window.scenefarm.shown"))

    def screenshot(self, state: str) -> None:
        self.page.screenshot(path=self.artifacts / f"{self.name}-{state}.png", full_page=True)


@pytest.fixture(scope="module")
def alice(browser: Browser, stack: WebStack, artifacts: Path) -> Iterator[Person]:
    context = browser.new_context(accept_downloads=True)
    person = Person(context, stack, artifacts, "alice")
    person.sign_in_as_guest()
    yield person
    context.close()


def test_a_user_submits_newtons_laws_and_follows_it_live_to_a_video_that_decodes(
    alice: Person, stack: WebStack, tmp_path: Path
) -> None:
    tracking = alice.submit("Newton's laws")
    assert tracking and alice.page.url.endswith(f"#/video/{tracking}")  # a tracking number at once
    row_id = alice.row_id()
    # No row id where it could be shared (the URL, the text): it would let others probe the row.
    assert row_id != tracking and row_id not in alice.page.url
    assert row_id not in (alice.page.locator("body").text_content() or "")
    alice.screenshot("1-submitted")
    statuses = ["queued"]  # what the page showed on submit, before any event

    def scenes_running() -> bool:
        phases = [
            p
            for p in (alice.page.get_by_test_id("scene").evaluate_all("els => els.map(e => e.dataset.phase)"))
            if p
        ]
        return "Running" in phases or "Succeeded" in phases

    alice.wait_status("rendering")
    wait_for(scenes_running, 120, "a scene to start")
    eta = wait_for(lambda: alice.page.get_by_test_id("eta").count(), 30, "the ETA while it renders")
    text, stalled, left = alice.page.evaluate(  # what the page shows, and the row it shows, at once
        """(id) => { const v = window.scenefarm.rows.videos.get(id);
            return [document.querySelector('[data-testid=eta]').textContent, Boolean(v.stalled),
                    Date.parse(v.eta) - Date.now()]; }""",
        row_id,
    )
    assert eta == 1
    if text == "Expected to finish: unknown":  # a stall, or an estimate already past (a loaded machine)
        assert stalled or left <= 0, (text, left)
    else:
        assert text.startswith("Expected to finish at ") and not stalled, text
    alice.screenshot("2-rendering")
    before_reload = alice.shown()
    assert alice.row_reads == []  # no polling: every change so far came over Realtime
    statuses += [e["status"] for e in before_reload if e["table"] == "videos" and e["id"] == row_id]

    alice.page.reload()  # mid-render: the state comes back from the rows
    alice.wait_following()
    assert alice.page.get_by_test_id("tracking-id").text_content() == f"#{tracking}"
    assert alice.status() in ("rendering", "completed")
    alice.screenshot("3-reloaded")

    assert stack.double.drop_realtime() >= 1  # the network drops; the SDK reconnects
    final = alice.wait_status("completed", "failed")
    after_reload = alice.shown()
    statuses += [e["status"] for e in after_reload if e["table"] == "videos" and e["id"] == row_id]
    alice.screenshot("4-completed")
    assert final == "completed", alice.page.get_by_test_id("video").text_content()

    steps = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert steps == ["queued", "planning", "rendering", "completed"]
    scene_phases: dict[str, list[str]] = {}
    for event in before_reload + after_reload:
        if event["table"] == "scenes":
            scene_phases.setdefault(event["id"], []).append(event["phase"])
    assert len(scene_phases) == 2 and all(
        "Succeeded" in p and len(set(p)) >= 2 for p in scene_phases.values()
    )
    bars = alice.page.get_by_test_id("scene-progress").evaluate_all("els => els.map(e => e.dataset.value)")
    assert bars == ["100", "100"]
    logs = alice.page.get_by_test_id("scene-log")  # each finished scene: the tail of its render's log
    assert logs.count() == 2
    logs.first.locator("summary").click()
    tail = logs.first.locator("pre").text_content() or ""
    assert "frames" in tail and "stored" in tail, tail
    alice.screenshot("4b-scene-log")
    # After the reload only the resync that follows the dropped socket listed rows: one list of
    # each table, not a poll.
    wait_for(lambda: len(alice.row_reads) >= 2, 20, "the resync after the reconnect")
    time.sleep(1)
    assert len(alice.row_reads) == 2, alice.row_reads

    with alice.page.expect_download() as download:
        alice.page.get_by_test_id("download").click()
    assert download.value.suggested_filename == "newtons-laws.mp4"  # named after the topic
    video = tmp_path / "newton.mp4"
    download.value.save_as(video)
    with av.open(str(video)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames > 10

    alice.page.get_by_test_id("view-code").first.click()
    code_view = alice.page.get_by_test_id("code-view")  # filled when the code file's fetch answers
    code = wait_for(lambda: code_view.text_content() or "", 10, "the scene's code to show")
    assert "from manim import" in code and "class " in code
    alice.screenshot("5-code")


def failing_request(owner: str) -> dict[str, Any]:
    good = "from manim import *\n\nclass Intro(Scene):\n    def construct(self):\n        self.wait(0.2)\n"
    bad = (
        "from manim import *\n\nclass Cart(Scene):\n    def construct(self):\n"
        "        raise ValueError('the cart has no wheels')\n"
    )
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "cart", "namespace": "default"},
        "spec": {
            "topic": "A cart on a track",
            "scenes": [
                {"name": "intro", "className": "Intro", "code": good},
                {"name": "cart", "className": "Cart", "code": bad},
            ],
            "render": {"quality": "low", "backoffLimit": 0},
            "output": {"store": "Appwrite"},
            "owner": {"appwriteUserId": owner},
        },
    }


def test_a_failing_scene_shows_its_message(alice: Person, stack: WebStack) -> None:
    client = stack.env.client()
    client.create(codecs.from_dict(failing_request(alice.user_id())))  # e.g. made with kubectl
    uid = str(client.get(VideoRequest, "cart", namespace="default").metadata.uid)
    row = wait_for(lambda: stack.double.rows("scenefarm", "videos").get(video_row_id(uid)), 60, "the row")
    alice.page.goto(f"{stack.url}#/video/{row['$sequence']}")
    wait_for(lambda: alice.page.get_by_test_id("video").count(), 60, "the request's row on the page")
    assert alice.wait_status("failed", timeout=120) == "failed"
    message = alice.page.get_by_test_id("scene-error").first.text_content(timeout=10_000) or ""
    assert "the cart has no wheels" in message
    assert alice.page.get_by_test_id("video-error").text_content()
    alice.screenshot("6-failed-scene")


def test_a_second_user_sees_nothing_of_the_first_and_a_cancel_stops_the_request(
    alice: Person, browser: Browser, stack: WebStack, artifacts: Path
) -> None:
    bob = Person(browser.new_context(), stack, artifacts, "bob")
    try:
        bob.sign_up("bob@example.com", "correct horse battery")  # an email account this time
        assert bob.page.get_by_test_id("who").text_content() == "bob@example.com"
        assert bob.user_id() != alice.user_id()
        assert bob.page.get_by_test_id("no-videos").is_visible()

        alice.open("#/")
        alice.wait_following()
        tracking = alice.submit("Friction")
        row_id = alice.row_id()
        alice.wait_status("rendering", timeout=120)
        alice.page.get_by_test_id("cancel").click()
        alice.wait_status("cancelled", timeout=120)  # its own badge, not "failed"
        alice.page.get_by_test_id("video-phase").filter(has_text="Cancelled").wait_for(timeout=30_000)
        alice.screenshot("7-cancelled")
        name = stack.env.client().get(VideoRequest, f"web-{row_id}", namespace=NAMESPACE)
        assert name["spec"]["cancel"] is True
        assert wait_for(
            lambda: (
                (
                    stack.env.client().get(VideoRequest, f"web-{row_id}", namespace=NAMESPACE).get("status")
                    or {}
                ).get("phase")
                == "Cancelled"
            ),
            60,
            "the VideoRequest to be cancelled",
        )

        bob.page.goto(f"{stack.url}#/video/{tracking}")
        assert "not yours" in (
            (bob.page.get_by_test_id("video").count() == 0 and bob.page.locator("#video").text_content())
            or ""
        )
        assert bob.shown() == []  # not one of alice's events reached bob's socket
        assert bob.page.get_by_test_id("no-videos").is_visible()
        status = bob.page.evaluate(
            """async ([endpoint, project, row]) => (await fetch(
                `${endpoint}/tablesdb/scenefarm/tables/videos/rows/${row}`,
                {credentials: 'include', headers: {'X-Appwrite-Project': project}})).status""",
            [stack.double.endpoint, stack.double.double.project, row_id],
        )
        assert status == 404
        bob.screenshot("8-second-user")
    finally:
        bob.context.close()
