"""The combine's narration step: speak every scene's sentences (through the cache), put them on the
combined video, verify it, and store the WebVTT and SRT files beside it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from scenefarm_contract.narration import NARRATION_INDEX, SUBTITLES_SRT, SUBTITLES_VTT, Narration
from scenefarm_renderer.storage.store import ArtifactStore

from ..errors import EnvironmentProblem
from ..media import sha256_of
from .mixing import Narrated, SceneVoice, narrate, verify_narrated
from .speech import Voice, voice_for
from .subtitles import sentences, srt, webvtt


@dataclasses.dataclass(frozen=True)
class VoiceOver:
    narrated: Narrated
    subtitles: str  # URI of the WebVTT file
    subtitles_sha256: str
    subtitles_srt: str
    synthesised: int  # sentences spoken now (the rest came from the cache)
    notes: tuple[str, ...]


def voice_over(
    store: ArtifactStore,
    narration: Narration,
    video: Path,
    scene_frames: Sequence[int],
    output: Path,
    *,
    voice: Voice | None = None,
) -> VoiceOver:
    """Narrate `video` (scenes of `scene_frames` frames) into `output` and store its subtitles."""
    if len(narration.texts) != len(scene_frames):
        raise EnvironmentProblem(
            f"--narration has {len(narration.texts)} texts for {len(scene_frames)} --input scenes"
        )
    voice = voice or voice_for(narration, store)
    voices = [
        SceneVoice(tuple((line, voice.say(line)) for line in sentences(text))) for text in narration.texts
    ]
    narrated = narrate(video, scene_frames, voices, output, language=narration.language)
    problems = verify_narrated(output, narrated.cues)
    if problems:
        raise EnvironmentProblem("the narrated video failed verification: " + "; ".join(problems))
    vtt, srt_file = output.with_suffix(".vtt"), output.with_suffix(".srt")
    vtt.write_text(webvtt(narrated.cues), encoding="utf-8")
    srt_file.write_text(srt(narrated.cues), encoding="utf-8")
    print(
        f"narration: {len(narrated.cues)} sentences, {voice.synthesised} synthesised, "
        f"{sum(1 for h in narrated.holds if h)} scenes held for their voice",
        file=sys.stderr,
    )
    index = output.with_name(NARRATION_INDEX)  # what a clean-up of an unlistable store removes
    known = set()
    if store.exists(NARRATION_INDEX):
        store.get(NARRATION_INDEX, index)
        known = set(index.read_text(encoding="utf-8").split())
    index.write_text("".join(f"{key}\n" for key in sorted(known | voice.keys)), encoding="utf-8")
    store.put(index, NARRATION_INDEX)
    digest = sha256_of(vtt)
    return VoiceOver(
        narrated,
        store.put(vtt, SUBTITLES_VTT),
        digest,
        store.put(srt_file, SUBTITLES_SRT),
        voice.synthesised,
        tuple(voice.notes),
    )
