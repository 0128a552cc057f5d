"""The double's HTTP server: generateContent, an admin API for scripts and the request log."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import re
import threading
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from scenefarm_devkit.gemini_double.replies import (
    Literal,
    PlanMaker,
    Reply,
    default_answer,
    error_body,
    speech_body,
)

KINDS = ("plan", "fix", "speech")
_MARKER = re.compile(r"scenefarm-prompt:\s*(plan|fix)\b")


@dataclasses.dataclass(frozen=True)
class LoggedRequest:
    kind: str  # plan | fix | speech | unknown
    model: str
    api_version: str
    api_key: str | None
    body: dict[str, Any]
    status: int  # what the double answered

    @property
    def request(self) -> dict[str, Any]:
        """The first user turn parsed as JSON (the planner's request), or {}."""
        try:
            parsed = json.loads(self.body["contents"][0]["parts"][0]["text"])
        except (KeyError, IndexError, TypeError, ValueError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def turns(self) -> int:
        return len(self.body.get("contents") or [])


class GeminiDouble:
    """`async with GeminiDouble() as double:` then point the SDK at `double.base_url`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        make_plan: PlanMaker | None = None,
        literal: Literal = repr,
    ) -> None:
        self.host, self.port = host, port
        # The default answers' ingredients, handed in by the dev kit's wiring (see replies.py).
        self.make_plan, self.literal = make_plan, literal
        self.api_key = api_key  # None: any non-empty key is accepted
        self.requests: list[LoggedRequest] = []
        self._scripts: dict[str, collections.deque[Reply]] = {kind: collections.deque() for kind in KINDS}
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, kind: str, *replies: Reply) -> None:
        """Queue replies for `kind` calls, played in order; then the default answers resume."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self._scripts[kind].extend(replies)

    def calls(self, kind: str | None = None) -> list[LoggedRequest]:
        return [r for r in self.requests if kind is None or r.kind == kind]

    async def __aenter__(self) -> GeminiDouble:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/{version:v1beta|v1}/models/{call}", self._generate)
        app.router.add_post("/_double/script", self._admin_script)
        app.router.add_get("/_double/requests", self._admin_requests)
        # A client that gave up (timeout) cancels its slow answer; stopping never waits long.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the bound port when 0 asked for a free one

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _generate(self, request: web.Request) -> web.Response:
        model, _, method = request.match_info["call"].partition(":")
        body = await request.json()
        kind = _kind(body)
        key = request.headers.get("x-goog-api-key")
        reply = self._next_reply(kind)
        status = reply.status
        if not key or (self.api_key is not None and key != self.api_key):
            status, reply = (401 if not key else 403), Reply()
        elif method != "generateContent":
            status = 404
        self.requests.append(LoggedRequest(kind, model, request.match_info["version"], key, body, status))
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        if status != 200:
            return web.json_response(error_body(status), status=status)
        if reply.raw_body is not None:
            return web.Response(text=reply.raw_body, content_type="application/json")
        if kind == "speech" and reply.text is None:
            return web.json_response(_speech_response(model, body, len(self.requests)))
        first_turn = LoggedRequest(kind, model, "", key, body, status).request
        text = (
            reply.text
            if reply.text is not None
            else default_answer(kind, first_turn, self.make_plan, self.literal)
        )
        return web.json_response(_response(model, text, body, reply, len(self.requests)))

    def _next_reply(self, kind: str) -> Reply:
        queue = self._scripts.get(kind)
        return queue.popleft() if queue else Reply()

    async def _admin_script(self, request: web.Request) -> web.Response:
        """`{"kind": "plan", "replies": [{"status": 429}, {"text": "..."}]}` queues replies."""
        data = await request.json()
        try:
            self.script(data["kind"], *(Reply.from_json(r) for r in data.get("replies", [])))
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"queued": len(self._scripts[data["kind"]])})

    async def _admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            [{"kind": r.kind, "model": r.model, "status": r.status, "turns": r.turns} for r in self.requests]
        )


def _kind(body: dict[str, Any]) -> str:
    modalities = (body.get("generationConfig") or {}).get("responseModalities") or []
    if "AUDIO" in [str(m).upper() for m in modalities]:
        return "speech"
    match = _MARKER.search(" ".join(_texts(body.get("systemInstruction") or {})))
    if match is None:  # the marker may also travel in the user turn
        match = _MARKER.search(" ".join(t for c in body.get("contents") or [] for t in _texts(c)))
    return match.group(1) if match else "unknown"


def _texts(content: dict[str, Any]) -> Iterable[str]:
    return (str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict))


def _response(model: str, text: str, body: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else len(json.dumps(body)) // 4
    candidates = reply.candidate_tokens if reply.candidate_tokens is not None else len(text) // 4
    return {
        "candidates": [
            {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates,
        },
        "modelVersion": model,
        "responseId": f"double-{number}",
    }


def _speech_response(model: str, body: dict[str, Any], number: int) -> dict[str, Any]:
    text = " ".join(t for c in body.get("contents") or [] for t in _texts(c))
    return {
        "candidates": [speech_body(text, speech_voice(body))],
        "modelVersion": model,
        "responseId": f"double-{number}",
    }


def speech_voice(body: dict[str, Any]) -> str:
    """The prebuilt voice a speech call asks for (the SDK sends the speech config's inner fields
    in snake_case, as the API accepts; camelCase is read too)."""
    found: Any = body.get("generationConfig") or {}
    for camel, snake in (
        ("speechConfig", "speech_config"),
        ("voiceConfig", "voice_config"),
        ("prebuiltVoiceConfig", "prebuilt_voice_config"),
        ("voiceName", "voice_name"),
    ):
        found = (found.get(camel) or found.get(snake) or {}) if isinstance(found, dict) else {}
    return str(found or "")


class GeminiDoubleThread:
    """A `GeminiDouble` on its own event loop in a daemon thread, for synchronous callers."""

    def __init__(self, **kwargs: Any) -> None:
        self.double = GeminiDouble(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gemini-double", daemon=True)

    def __enter__(self) -> GeminiDouble:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.double.start(), self._loop).result(timeout=10)
        return self.double

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.double.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
