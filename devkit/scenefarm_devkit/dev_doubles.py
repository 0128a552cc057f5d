"""`scenefarm dev up`'s external services: the Appwrite and Gemini doubles (or a real Gemini).

Each starter is a context manager that runs a double for as long as `dev up` runs and returns
the `SCENEFARM_*` settings the operator needs to use it. Settings the user exported win over
these (DevEnv passes the user's `SCENEFARM_*` through), except where a flag asks for a double.

The Gemini script (`--gemini-script FILE`) is JSON: replies to play, in order, per call kind,
before the double falls back to its default answers (the Template planner's plan; a small valid
fix)::

    {"plan": [{"scenes": [{"name": "intro", "className": "Intro", "narration": "...", "code": "..."}]}],
     "fix":  [{"code": "from manim import *\\n..."}, {"status": 503}]}

A reply is `{"scenes": [...]}` (a plan), `{"code": "..."}` (a fix), or any field of the double's
`Reply`: `text` (the model's raw output), `status` (an API error such as 429 or 503),
`delay_seconds`, `raw_body`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scenefarm_devkit.gemini_double import Reply

DEV_APPWRITE_KEY = "dev-only-key"  # the local double's key; never a real credential


def reply_from_json(data: dict[str, Any]) -> Reply:
    if "scenes" in data:
        return Reply.plan(data["scenes"])
    if "code" in data:
        return Reply.fix(data["code"])
    return Reply.from_json(data)


def load_script(path: Path) -> dict[str, list[Reply]]:
    """The per-kind replies of a script file; a clear error for anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the Gemini script {path}: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"plan", "fix"}:
        raise ValueError(f'the Gemini script {path} must be an object with "plan" and/or "fix" lists')
    return {kind: [reply_from_json(r) for r in replies] for kind, replies in data.items()}


@contextlib.contextmanager
def gemini_double(script: Path | None) -> Iterator[tuple[Any, dict[str, str]]]:
    """The Gemini double in a background thread, and the settings that point the operator at it."""
    from scenefarm_devkit.doubles import gemini_double_thread

    replies = load_script(script) if script is not None else {}
    key = "dev-" + secrets.token_urlsafe(8)
    thread = gemini_double_thread(api_key=key)
    with thread as double:
        for kind, queued in replies.items():
            double.script(kind, *queued)
        yield double, {"SCENEFARM_GEMINI_BASE_URL": double.base_url, "SCENEFARM_GEMINI_API_KEY": key}


@contextlib.contextmanager
def appwrite_double() -> Iterator[tuple[Any, dict[str, str]]]:
    from scenefarm_devkit.appwrite_double import AppwriteDoubleThread

    double = AppwriteDoubleThread(api_key=DEV_APPWRITE_KEY, column_delay=0.05).start()
    try:
        yield (
            double,
            {
                "SCENEFARM_APPWRITE_ENDPOINT": double.endpoint,
                "SCENEFARM_APPWRITE_PROJECT": double.double.project,
                "SCENEFARM_APPWRITE_API_KEY": DEV_APPWRITE_KEY,
            },
        )
    finally:
        double.stop()
