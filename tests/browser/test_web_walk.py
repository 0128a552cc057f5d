"""Issue 25's walk in a browser: sign in, submit a batch of three topics (shown as one group,
queued in order), see "not started yet" honestly, watch scene thumbnails appear, cancel one (a
"cancelled" badge, not "failed"), download one named after its topic with the poster on the
player, sign out. Real Web SDK, real operator, real renders; screenshots in test-artifacts/web/."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Browser

from scenefarm_devkit.web import NAMESPACE, WebStack, download_command
from scenefarm_operator.runtime.kube import VideoRequest

from .test_web_page import Person, wait_for

pytestmark = pytest.mark.browser
TOPICS = ["Ohm's law", "Hooke's law", "Snell's law"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[WebStack]:
    """Room for one request and a batch of three per user, and not one more."""
    with WebStack(
        tmp_path_factory.mktemp("web-walk"), dist=dist, max_scenes="2", max_active_per_user="4"
    ) as running:
        yield running


def test_a_batch_walk_from_sign_in_to_sign_out(
    browser: Browser, stack: WebStack, artifacts: Path, tmp_path: Path
) -> None:
    carol = Person(browser.new_context(accept_downloads=True), stack, artifacts, "walk")
    try:
        carol.sign_in_as_guest()
        page = carol.page
        # One topic: the form is cleared once the request is made.
        page.get_by_test_id("topic").fill("Pascal's law")
        page.get_by_test_id("description").fill("Pressure spreads evenly.")
        page.get_by_test_id("submit").click()
        page.get_by_test_id("tracking-id").wait_for(timeout=10_000)
        assert page.get_by_test_id("topic").input_value() == ""
        assert page.get_by_test_id("description").input_value() == ""

        # A batch of three: one row each, one group on the page, the textarea cleared.
        page.locator("[data-testid=batch] summary").click()
        page.get_by_test_id("batch-topics").fill("\n".join(TOPICS) + "\n")
        page.get_by_test_id("planner").select_option("Template")
        page.get_by_test_id("quality").select_option("low")
        page.get_by_test_id("submit-batch").click()
        notice = page.get_by_test_id("notice")
        wait_for(lambda: "Submitted a batch of 3" in (notice.text_content() or ""), 20, "the batch's notice")
        group = page.get_by_test_id("batch-group")
        assert page.get_by_test_id("batch-topics").input_value() == ""
        titles = group.locator("a").all_text_contents()
        assert sorted(titles) == sorted(TOPICS)
        queued = page.get_by_test_id("queue-item").locator("a").all_text_contents()
        assert queued[0] == "Pascal's law" and sorted(queued[1:]) == sorted(TOPICS)  # oldest first
        positions = page.get_by_test_id("queue-position").all_text_contents()
        assert positions == ["1.", "2.", "3.", "4."]
        carol.screenshot("1-batch-submitted")
        batch = str(group.get_attribute("data-batch"))
        labelled = wait_for(
            lambda: (
                len(
                    items := list(
                        stack.env.client().list(
                            VideoRequest, namespace=NAMESPACE, labels={"scenefarm.dev/batch": batch}
                        )
                    )
                )
                == 3
                and items
            ),
            60,
            "three VideoRequests labelled with the batch",
        )
        assert sorted(i["spec"]["topic"] for i in labelled) == sorted(TOPICS)

        # Per-user limits still hold: a fifth unfinished request is refused on its row.
        page.get_by_test_id("topic").fill("Boyle's law")
        page.get_by_test_id("submit").click()
        page.get_by_test_id("video-topic").filter(has_text="Boyle's law").wait_for(timeout=10_000)
        assert carol.wait_status("failed", timeout=60) == "failed"
        assert "videos in progress" in (page.get_by_test_id("video-error").text_content() or "")
        carol.screenshot("1b-limit")

        # The last of the batch: until one of its scenes runs, it says so instead of a scene.
        group.locator("a", has_text=TOPICS[2]).click()
        page.get_by_test_id("video").wait_for(timeout=10_000)
        shown = page.evaluate(
            """() => ({current: document.querySelector('[data-testid=current-scene]').textContent,
                      phases: [...document.querySelectorAll('[data-testid=scene]')].map(e => e.dataset.phase)})"""
        )
        started = {"Running", "Healing", "Retrying", "Succeeded", "Failed", "Stopped"}
        if not started & set(shown["phases"]):
            assert shown["current"] == "not started yet", shown
        # Cancel it: the badge says cancelled.
        page.get_by_test_id("cancel").click(timeout=60_000)
        wait_for(lambda: carol.status() == "cancelled", 120, "the cancelled badge")
        assert "Cancelled" in (page.get_by_test_id("video-phase").text_content() or "")
        carol.screenshot("2-cancelled")

        # The first of the batch renders: scene thumbnails appear as scenes finish.
        group.locator("a", has_text=TOPICS[0]).click()
        wait_for(lambda: page.get_by_test_id("thumbnail").count() >= 1, 240, "a scene thumbnail")
        carol.screenshot("3-thumbnails")
        assert carol.wait_status("completed", "failed", timeout=240) == "completed"
        assert page.get_by_test_id("thumbnail").count() == page.get_by_test_id("scene").count()
        loaded = page.get_by_test_id("thumbnail").evaluate_all("els => els.map(e => e.naturalWidth)")
        assert all(width > 0 for width in loaded), loaded  # the posters are real images
        poster = page.get_by_test_id("player").get_attribute("poster")
        assert poster and "/files/" in poster  # the player shows a frame before it plays
        carol.screenshot("4-completed")

        with page.expect_download() as download:
            page.get_by_test_id("download").click()
        assert download.value.suggested_filename == "ohms-law.mp4"
        video = tmp_path / download.value.suggested_filename
        download.value.save_as(video)
        with av.open(str(video)) as container:
            assert sum(1 for _ in container.decode(container.streams.video[0])) > 10
        # The same video with the CLI, by the command `make web` prints (a fresh shell's argv).
        made = [
            r
            for r in stack.env.client().list(VideoRequest, namespace=NAMESPACE)
            if r.spec["topic"] == TOPICS[0]
        ]
        cli_video = tmp_path / "from-cli.mp4"
        command = download_command(stack, made[0].metadata.name, str(cli_video)).split()
        scenefarm = Path(sys.executable).parent / command[0]
        run = subprocess.run(
            [str(scenefarm), *command[1:]], capture_output=True, text=True, timeout=120, check=False
        )
        assert run.returncode == 0, run.stderr
        assert cli_video.read_bytes() == video.read_bytes()

        # Delete two of mine: the cancelled one (its request goes, then its rows) and the refused
        # one (no request was made: its row goes). Neither offers a retry: there is nothing to re-run.
        page.on("dialog", lambda dialog: dialog.accept())
        for topic in (TOPICS[2], "Boyle's law"):
            page.get_by_test_id("video-item").locator("a", has_text=topic).click()
            page.get_by_test_id("video-topic").filter(has_text=topic).wait_for(timeout=10_000)
            assert page.get_by_test_id("retry").count() == 0
            page.get_by_test_id("delete").click()
            page.get_by_test_id("deleting").wait_for(timeout=10_000)
            item = page.get_by_test_id("video-item").filter(has_text=topic)
            wait_for(lambda item=item: item.count() == 0, 120, f"{topic} to leave the list")
        names = [i["spec"]["topic"] for i in stack.env.client().list(VideoRequest, namespace=NAMESPACE)]
        assert TOPICS[2] not in names and TOPICS[0] in names
        carol.screenshot("4b-deleted")

        # Sign out: back to the sign-in card, nobody named in the header.
        page.get_by_test_id("sign-out").click()
        page.get_by_test_id("sign-in").wait_for(timeout=15_000)
        assert (page.get_by_test_id("who").text_content() or "") == ""
        assert page.get_by_test_id("video-list").count() == 0
        carol.screenshot("5-signed-out")
    finally:
        carol.context.close()


def test_a_failed_scene_is_retried_from_the_page(browser: Browser, stack: WebStack, artifacts: Path) -> None:
    """A request of the user's whose scene raises (made as the intake makes one from the user's
    row, with explicit scenes, so it fails for sure): Retry raises spec.retryGeneration and the
    scene runs a second attempt, shown on the page."""
    from lightkube import codecs

    from scenefarm_operator.web.intake import Limits, video_request

    dave = Person(browser.new_context(), stack, artifacts, "retry")
    try:
        dave.sign_in_as_guest()
        page, owner, row_id = dave.page, dave.user_id(), "cartrow1"
        body = video_request({"$id": row_id, "topic": "A cart on a track"}, owner, NAMESPACE, Limits())
        bad = "from manim import *\n\nclass Cart(Scene):\n    def construct(self):\n        raise ValueError('no wheels')\n"
        del body["spec"]["planner"]
        body["spec"] |= {
            "scenes": [{"name": "cart", "className": "Cart", "code": bad}],
            "render": {"quality": "low", "backoffLimit": 0, "cache": False},
        }
        stack.env.client().create(codecs.from_dict(body))
        created = page.evaluate(
            """async ([endpoint, project, row]) => (await fetch(`${endpoint}/tablesdb/scenefarm/tables/videos/rows`, {
                method: 'POST', credentials: 'include',
                headers: {'X-Appwrite-Project': project, 'Content-Type': 'application/json'},
                body: JSON.stringify({rowId: row, data: {topic: 'A cart on a track', status: 'queued', progress: 0}})})).status""",
            [stack.double.endpoint, stack.double.double.project, row_id],
        )
        assert created == 201
        sequence = stack.double.rows("scenefarm", "videos")[row_id]["$sequence"]
        page.goto(f"{stack.url}#/video/{sequence}")
        assert dave.wait_status("failed", timeout=180) == "failed"
        assert "no wheels" in (page.get_by_test_id("scene-error").first.text_content(timeout=10_000) or "")
        dave.screenshot("1-failed")
        page.get_by_test_id("retry").click()

        def second_attempt() -> bool:
            spec = stack.env.client().get(VideoRequest, f"web-{row_id}", namespace=NAMESPACE)["spec"]
            return spec.get("retryGeneration") == 1 and "attempt 2" in (
                page.get_by_test_id("scene").first.text_content() or ""
            )

        wait_for(second_attempt, 180, "the retry's second attempt on the page")
        dave.screenshot("2-retried")
    finally:
        dave.context.close()
