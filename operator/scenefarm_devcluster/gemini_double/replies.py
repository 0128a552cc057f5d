"""What the double answers: scripted replies, and the default answers when no script is left.

The default plan is the Template planner's plan for the request's topic and description, so
an unscripted double gives plans that pass validation and render; the default fix is a small
scene that shows the scene's narration under its own class name.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from scenefarm_operator.planning.template import literal, plan_scenes


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


def default_answer(kind: str, request: dict[str, Any]) -> str:
    if kind == "plan":
        spec = {
            "topic": request.get("topic", ""),
            "description": request.get("description", ""),
            "planner": {"maxScenes": request.get("maxScenes", 6)},
        }
        scenes = [
            {"name": s.name, "className": s.class_name, "narration": s.narration, "code": s.code}
            for s in plan_scenes(spec)
        ]
        return json.dumps({"scenes": scenes})
    class_name = str(request.get("className") or "")
    class_name = class_name if class_name.isidentifier() and class_name.isascii() else "Fixed"
    narration = str(request.get("narration") or request.get("topic") or class_name)
    code = (
        "from manim import *\n\n\n"
        f"class {class_name}(Scene):\n"
        "    def construct(self):\n"
        f"        label = Text({literal(narration[:80])}, font_size=32)\n"
        "        if label.width > 13:\n"
        "            label.scale_to_fit_width(13)\n"
        "        self.play(Write(label))\n"
        "        self.wait(1)\n"
    )
    return json.dumps({"code": code, "explanation": "the double's default fix"})
