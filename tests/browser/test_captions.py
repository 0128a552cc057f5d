"""The narrated video's captions in the page's player: a <track> whose WebVTT cues load from
Appwrite Storage with the session's cookie and show the narration's sentences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from scenefarm_devkit.web import WebStack

from .test_web_page import Person, wait_for


@pytest.fixture(scope="module")
def carol(browser: Browser, stack: WebStack, artifacts: Path) -> Iterator[Person]:
    context = browser.new_context()
    person = Person(context, stack, artifacts, "carol")
    person.sign_in_as_guest()
    yield person
    context.close()


CUES = """() => {
  const video = document.querySelector('[data-testid=player]');
  const track = video && video.textTracks[0];
  if (!track || !track.cues || track.cues.length === 0) return null;
  return {mode: track.mode, kind: track.kind, cues: Array.from(track.cues).map(c => [c.startTime, c.endTime, c.text])};
}"""


def test_the_player_shows_the_narrations_captions(carol: Person) -> None:
    carol.submit("Newton's laws")
    assert carol.wait_status("completed", "failed") == "completed"
    track = carol.page.get_by_test_id("captions")
    assert track.get_attribute("kind") == "subtitles" and track.get_attribute("default") is not None

    loaded: dict[str, Any] = wait_for(lambda: carol.page.evaluate(CUES), 30, "the captions to load")

    assert loaded["mode"] == "showing" and loaded["kind"] == "subtitles"
    texts = [text for _, _, text in loaded["cues"]]
    assert texts[0] == "Newton's laws"  # the Template planner's title narration, first
    starts = [start for start, _, _ in loaded["cues"]]
    assert starts == sorted(starts) and all(end > start for start, end, _ in loaded["cues"])
    carol.page.evaluate("document.querySelector('[data-testid=player]').currentTime = 0.5")
    active = wait_for(
        lambda: carol.page.evaluate(
            "() => { const t = document.querySelector('[data-testid=player]').textTracks[0];"
            " return t.activeCues && t.activeCues.length ? t.activeCues[0].text : null; }"
        ),
        15,
        "a caption at 0.5 s",
    )
    assert active == "Newton's laws"
    carol.screenshot("captions")
