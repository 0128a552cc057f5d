"""What the double answers: scripted replies, and the default answers when no script is left.

The default plan comes from a `PlanMaker` that whoever starts the double hands in (the dev kit's
wiring hands in the Template planner, so an unscripted double gives plans that pass validation
and render); without one, the double answers one title scene. The default fix is a small scene
that shows the scene's narration under its own class name. The double imports no product code.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import struct
from collections.abc import Callable
from typing import Any

# The planner's request (topic, description, maxScenes) -> scene dicts (name, className, narration, code).
PlanMaker = Callable[[dict[str, Any]], list[dict[str, str]]]
# Text -> a Python expression equal to it that the renderer's code policy accepts.
Literal = Callable[[str], str]


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted answer. `text` is the model's output; `status` != 200 sends an API error."""

    text: str | None = None  # None: the default answer for the call
    status: int = 200
    delay_seconds: float = 0.0  # wait before answering (to trip client timeouts)
    raw_body: str | None = None  # sent verbatim instead of a generateContent response
    prompt_tokens: int | None = None  # None: about a token per 4 bytes of the request
    candidate_tokens: int | None = None  # None: about a token per 4 bytes of the answer

    @classmethod
    def error(cls, status: int, delay_seconds: float = 0.0) -> Reply:
        return cls(status=status, delay_seconds=delay_seconds)

    @classmethod
    def malformed(cls) -> Reply:
        """A 200 answer whose text is not the JSON the schema asks for."""
        return cls(text='{"scenes": [{"name": "intro", "code": "from manim import *\\n')

    @classmethod
    def slow(cls, delay_seconds: float, text: str | None = None) -> Reply:
        return cls(text=text, delay_seconds=delay_seconds)

    @classmethod
    def plan(cls, scenes: list[dict[str, str]]) -> Reply:
        """A plan answer from scene dicts (name, className, narration, code)."""
        return cls(text=json.dumps({"scenes": scenes}))

    @classmethod
    def malformed_speech(cls) -> Reply:
        """A 200 speech answer whose audio is not 16-bit PCM (an odd number of bytes)."""
        part = {"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000", "data": "AAAA"}}
        body = {"candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP"}]}
        return cls(raw_body=json.dumps(body))

    @classmethod
    def fix(cls, code: str) -> Reply:
        return cls(text=json.dumps({"code": code, "explanation": "scripted fix"}))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str = "") -> dict[str, Any]:
    """The Google API error shape `google.genai.errors.APIError` reads code, status and message from."""
    name = STATUS_NAMES.get(status, "UNKNOWN")
    return {"error": {"code": status, "message": message or f"the double says {name}", "status": name}}


def default_answer(
    kind: str, request: dict[str, Any], make_plan: PlanMaker | None = None, literal: Literal = repr
) -> str:
    if kind == "plan":
        if make_plan is not None:
            return json.dumps({"scenes": make_plan(request)})
        topic = str(request.get("topic") or "Title")
        scene = {"name": "title", "className": "Title", "narration": topic}
        return json.dumps({"scenes": [{**scene, "code": _title_code("Title", literal(topic[:80]))}]})
    class_name = str(request.get("className") or "")
    class_name = class_name if class_name.isidentifier() and class_name.isascii() else "Fixed"
    narration = str(request.get("narration") or request.get("topic") or class_name)
    code = _title_code(class_name, literal(narration[:80]))
    return json.dumps({"code": code, "explanation": "the double's default fix"})


SPEECH_RATE = 24_000  # Hz: Gemini's speech answers are 16-bit mono PCM at 24 kHz
SPEECH_MIME = f"audio/L16;codec=pcm;rate={SPEECH_RATE}"
_SECONDS_PER_CHARACTER = 0.06  # about as fast as Gemini's voices speak


def speech_pcm(text: str, voice: str) -> bytes:
    """A recorded-style speech answer: a voiced buzz (pitch by voice) in syllable-long bursts,
    as long as the text takes to say; the same text and voice always give the same bytes."""
    count = max(1, round(len(text) * _SECONDS_PER_CHARACTER * SPEECH_RATE))
    pitch = 110 + sum(voice.encode()) % 120
    samples = []
    for n in range(count):
        t = n / SPEECH_RATE
        envelope = 0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)  # four syllables a second
        buzz = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3))
        samples.append(round(9000 * envelope * buzz / 1.8))
    return struct.pack(f"<{count}h", *samples)


def speech_body(text: str, voice: str) -> dict[str, Any]:
    data = base64.b64encode(speech_pcm(text, voice)).decode()
    part = {"inlineData": {"mimeType": SPEECH_MIME, "data": data}}
    return {"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}


def _title_code(class_name: str, text_expression: str) -> str:
    """A scene that writes the string that `text_expression` evaluates to."""
    return (
        "from manim import *\n\n\n"
        f"class {class_name}(Scene):\n"
        "    def construct(self):\n"
        f"        label = Text({text_expression}, font_size=32)\n"
        "        if label.width > 13:\n"
        "            label.scale_to_fit_width(13)\n"
        "        self.play(Write(label))\n"
        "        self.wait(1)\n"
    )
