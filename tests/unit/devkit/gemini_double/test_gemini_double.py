import json
import urllib.error
import urllib.request

import aiohttp
import pytest

from scenefarm_devkit.doubles import gemini_double, gemini_double_thread
from scenefarm_devkit.gemini_double import Reply


def generate_body(system: str, user: str) -> dict:
    return {
        "contents": [{"role": "user", "parts": [{"text": user}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": system}]},
    }


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_calls_are_told_apart_by_the_prompt_marker(gemini):
    async with aiohttp.ClientSession(headers={"x-goog-api-key": "k"}) as http:
        for system in ("<!-- scenefarm-prompt: plan.v1 -->", "<!-- scenefarm-prompt: fix.v1 -->", "hello"):
            url = f"{gemini.base_url}/v1/models/m:generateContent"
            async with http.post(url, json=generate_body(system, "{}")) as response:
                assert response.status == 200
    assert [r.kind for r in gemini.requests] == ["plan", "fix", "unknown"]


async def test_missing_api_key_is_answered_401_in_the_google_error_shape(gemini):
    async with aiohttp.ClientSession() as http:
        url = f"{gemini.base_url}/v1beta/models/m:generateContent"
        async with http.post(url, json=generate_body("scenefarm-prompt: plan.v1", "{}")) as response:
            assert response.status == 401
            assert (await response.json())["error"]["status"] == "UNAUTHENTICATED"


async def test_scripted_replies_play_in_order_then_defaults_resume(gemini):
    gemini.script("fix", Reply.error(500), Reply.fix("code"))
    async with aiohttp.ClientSession(headers={"x-goog-api-key": "k"}) as http:
        texts = []
        for _ in range(3):
            url = f"{gemini.base_url}/v1beta/models/m:generateContent"
            body = generate_body(
                "scenefarm-prompt: fix.v1", json.dumps({"className": "Intro", "narration": "hi"})
            )
            async with http.post(url, json=body) as response:
                data = await response.json()
                texts.append(
                    data["candidates"][0]["content"]["parts"][0]["text"]
                    if response.status == 200
                    else response.status
                )
    assert texts[0] == 500
    assert json.loads(texts[1])["code"] == "code"
    assert "class Intro(Scene)" in json.loads(texts[2])["code"]


def test_threaded_double_serves_synchronous_callers_and_takes_scripts_over_http():
    with gemini_double_thread(api_key="secret") as gemini:
        status, queued = post(
            f"{gemini.base_url}/_double/script", {"kind": "plan", "replies": [{"status": 429}]}
        )
        assert (status, queued) == (200, {"queued": 1})
        url = f"{gemini.base_url}/v1beta/models/gemini-2.5-flash:generateContent"
        body = generate_body(
            "scenefarm-prompt: plan.v1", json.dumps({"topic": "Waves", "description": "One. Two."})
        )
        assert post(url, body, {"x-goog-api-key": "secret"})[0] == 429
        status, answer = post(url, body, {"x-goog-api-key": "secret"})
        assert post(url, body, {"x-goog-api-key": "wrong"})[0] == 403
    plan = json.loads(answer["candidates"][0]["content"]["parts"][0]["text"])
    assert [s["name"] for s in plan["scenes"]] == ["title", "point-1", "point-2", "closing"]
    assert answer["usageMetadata"]["promptTokenCount"] > 0
    assert [r.status for r in gemini.requests] == [429, 200, 403]


def test_unknown_call_kinds_cannot_be_scripted():
    with pytest.raises(ValueError, match="kind must be one of"):
        gemini_double().script("chat", Reply())
