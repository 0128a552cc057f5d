"""Narration: what the combine step speaks over the video and shows as subtitles.

The operator builds a `Narration` from `spec.narration` and the plan's per-scene texts and
passes it to `python -m scenefarm_renderer combine --narration JSON`; the renderer speaks each
scene's text, holds a scene's last frame while its voice runs on, muxes one audio track and a
soft subtitle track, and stores the WebVTT and SRT files beside the video.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

OFF, OFFLINE, GEMINI = "Off", "Offline", "Gemini"
MODES = (OFF, OFFLINE, GEMINI)
DEFAULT_MODE = OFFLINE
NARRATION_LIMIT = 2000  # characters of one scene's narration (the CRD's maxLength)
SPEED_RANGE = (0.5, 2.0)
SUBTITLES_VTT = "video.vtt"
SUBTITLES_SRT = "video.srt"
# The sentence cache's keys, one a line: how a clean-up of a store that cannot be listed (Appwrite
# Storage) finds the cached speech.
NARRATION_INDEX = "narration-index.txt"
GEMINI_KEY_ENV = "SCENEFARM_GEMINI_API_KEY"  # the combine Pod's key for `Gemini` (as the operator's)
GEMINI_URL_ENV = "SCENEFARM_GEMINI_BASE_URL"  # empty: Google's endpoint
# `Gemini` narration reads its key from this Secret in the request's namespace (optional: without
# it the voice falls back to Offline when allowed, else the combine fails with exit class 20).
GEMINI_SECRET, GEMINI_SECRET_KEY = "scenefarm-gemini", "apiKey"


@dataclasses.dataclass(frozen=True)
class Narration:
    """How to speak the video, and each input scene's text (in the combine's input order)."""

    mode: str = DEFAULT_MODE
    voice: str = ""  # engine voice; empty: the engine's default for `language`
    language: str = "en"
    speed: float = 1.0
    fallback: bool = True  # Gemini speech unavailable after its retries -> speak Offline
    texts: tuple[str, ...] = ()

    @property
    def speaks(self) -> bool:
        return self.mode != OFF and any(t.strip() for t in self.texts)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Narration:
        """Parse `--narration`; `ValueError` says what is wrong."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("--narration is not a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"--narration has unknown fields: {', '.join(unknown)}")
        texts = data.get("texts", [])
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError("--narration texts must be a list of strings")
        narration = cls(**{**data, "texts": tuple(texts)})
        problems = narration.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return narration

    def problems(self) -> list[str]:
        found = []
        if self.mode not in MODES:
            found.append(f"narration mode {self.mode!r} is not one of {', '.join(MODES)}")
        low, high = SPEED_RANGE
        if not isinstance(self.speed, int | float) or not low <= self.speed <= high:
            found.append(f"narration speed {self.speed!r} is not between {low} and {high}")
        for index, text in enumerate(self.texts):
            if len(text) > NARRATION_LIMIT:
                found.append(f"scene {index}: narration longer than {NARRATION_LIMIT} characters")
            if any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in text):
                found.append(f"scene {index}: narration has control characters")
        return found


def narration_of(spec: Mapping[str, Any], texts: Sequence[str]) -> Narration:
    """`spec.narration` (the CRD's defaults when absent) with the scenes' texts."""
    raw = spec.get("narration") or {}
    return Narration(
        mode=str(raw.get("mode", DEFAULT_MODE)),
        voice=str(raw.get("voice", "")),
        language=str(raw.get("language", "en")),
        speed=float(raw.get("speed", 1.0)),
        fallback=bool(raw.get("fallbackToOffline", True)),
        texts=tuple(speakable(t) for t in texts),
    )


def speakable(text: str) -> str:
    """`text` without control characters (line breaks and tabs stay), cut at a word to
    NARRATION_LIMIT: planners' texts (a Template scene of many points, an LLM's answer) always
    make a valid `--narration`."""
    kept = "".join(c for c in text if ord(c) >= 32 or c in "\n\t").replace("\x7f", "")
    if len(kept) <= NARRATION_LIMIT:
        return kept
    cut = kept[: NARRATION_LIMIT - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def narration_argv(narration: Narration) -> list[str]:
    """Arguments appended to `combine_argv(...)`: none for a silent video."""
    return ["--narration", narration.to_json()] if narration.speaks else []
