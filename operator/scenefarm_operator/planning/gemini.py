"""The Gemini planner: plans and fixes scenes with google-genai's async client and structured output.

Every answer is parsed against the response schema and validated against the renderer's code
policy; an invalid answer is re-asked once, in the same conversation, with the errors listed.
The SDK retries 429 and 5xx itself (`HttpRetryOptions`); what is left after that becomes
`PlannerUnavailable`. No API key means no client and no request at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from scenefarm_operator.planning import prompts
from scenefarm_operator.planning.base import Fix, Plan, PlannedScene, TokenUsage
from scenefarm_operator.planning.validation import scene_errors, scene_limit, validate_plan
from scenefarm_operator.support.errors import InvalidPlan, PlannerBusy, PlannerUnavailable, PlanningError

DEFAULT_MODEL = "gemini-2.5-flash"
API_VERSION = "v1beta"  # where structured output is documented; fixed so no env var changes it
RETRY_STATUS_CODES = [429, 500, 502, 503, 504]
ASKS = 2  # the first answer and one re-ask with the validation errors
_ERRORS_SHOWN = 20  # validation errors quoted back to the model in a re-ask

T = TypeVar("T")


class SceneDraft(pydantic.BaseModel):
    name: str
    className: str  # camelCase: the wire name the model sees in the schema
    narration: str
    code: str


class PlanDraft(pydantic.BaseModel):
    scenes: list[SceneDraft]


class FixDraft(pydantic.BaseModel):
    code: str
    explanation: str = ""


@dataclasses.dataclass(frozen=True)
class GeminiOptions:
    """How to reach Gemini; `from_settings` maps the operator's SCENEFARM_GEMINI_* settings."""

    api_key: str = dataclasses.field(default="", repr=False)
    model: str = DEFAULT_MODEL
    base_url: str = ""  # empty: Google's endpoint
    timeout_seconds: float = 120.0  # per HTTP request; a plan of six scenes takes tens of seconds
    retry_attempts: int = 4  # including the first request
    retry_initial_delay: float = 1.0
    retry_max_delay: float = 30.0
    retry_jitter: float = 1.0  # seconds of randomness added to each delay, so operators don't retry in step
    temperature: float = 0.4

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> GeminiOptions:
        return cls(
            api_key=settings.gemini_api_key,
            model=settings.gemini_model or DEFAULT_MODEL,
            base_url=settings.gemini_base_url,
            **overrides,
        )


class GeminiPlanner:
    """`base.Planner` for `spec.planner.mode: Gemini`.

    Holds no connection between calls: each `plan()`/`fix()` opens one HTTP session for its
    asks and closes it, so a planner outlives event loops (kopf restarts, test runners) safely.
    """

    def __init__(self, options: GeminiOptions) -> None:
        self.options = options

    async def plan(self, spec: Mapping[str, Any]) -> Plan:
        request = {
            "topic": spec.get("topic", ""),
            "description": spec.get("description", ""),
            "maxScenes": scene_limit(spec),
            "quality": (spec.get("render") or {}).get("quality", "low"),
            "latex": False,
        }
        limit = scene_limit(spec)

        def parse(text: str) -> tuple[Plan | None, list[str]]:
            draft, errors = _parse(PlanDraft, text)
            if draft is None:
                return None, errors
            scenes = tuple(PlannedScene(s.name, s.className, s.code, s.narration) for s in draft.scenes)
            plan = Plan(scenes=scenes)
            return plan, validate_plan(plan, max_scenes=limit)

        plan, usage = await self._ask(spec, prompts.PLAN_PROMPT, request, PlanDraft, parse, what="plan")
        return dataclasses.replace(plan, usage=usage)

    async def fix(self, spec: Mapping[str, Any], scene: PlannedScene, error_tail: str) -> Fix:
        request = {
            "topic": spec.get("topic", ""),
            "name": scene.name,
            "className": scene.class_name,
            "narration": scene.narration,
            "code": scene.code,
            "error": error_tail,
        }

        def parse(text: str) -> tuple[str | None, list[str]]:
            draft, errors = _parse(FixDraft, text)
            if draft is None:
                return None, errors
            return draft.code, scene_errors(dataclasses.replace(scene, code=draft.code))

        what = f"fix of scene {scene.name!r}"
        code, usage = await self._ask(spec, prompts.FIX_PROMPT, request, FixDraft, parse, what=what)
        return Fix(code=code, usage=usage)

    def model_for(self, spec: Mapping[str, Any]) -> str:
        return str((spec.get("planner") or {}).get("model") or self.options.model)

    async def _ask(
        self,
        spec: Mapping[str, Any],
        prompt: str,
        request: Mapping[str, Any],
        schema: type[pydantic.BaseModel],
        parse: Callable[[str], tuple[T | None, list[str]]],
        *,
        what: str,
    ) -> tuple[T, TokenUsage]:
        """Ask, parse, validate; re-ask once with the errors; raise InvalidPlan if still wrong."""
        model = self.model_for(spec)
        contents = [_turn("user", json.dumps(request, ensure_ascii=False, indent=1))]
        usage, errors = TokenUsage(), list[str]()
        async with self._connect() as client:
            for _ in range(ASKS):
                text, used = await self._generate(client, model, prompts.load(prompt), contents, schema)
                usage += used
                result, errors = parse(text)
                if result is not None and not errors:
                    return result, usage
                contents += [_turn("model", text or "(empty)"), _turn("user", _reask(errors))]
        raise InvalidPlan(
            f"Gemini ({model}, prompt {prompt}) gave an invalid {what} twice "
            f"({usage.calls} calls); retry, or choose another planner.mode or model",
            errors,
        )

    async def _generate(
        self,
        client: genai.Client,
        model: str,
        system: str,
        contents: list[types.Content],
        schema: type[pydantic.BaseModel],
    ) -> tuple[str, TokenUsage]:
        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_schema=schema,
            temperature=self.options.temperature,
        )
        try:
            response = await client.aio.models.generate_content(model=model, contents=contents, config=config)
        except genai_errors.APIError as exc:
            raise _api_error(exc, model) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            where = self.options.base_url or "Google's endpoint"
            raise PlannerBusy(f"cannot reach Gemini at {where}: {exc!r}; will retry") from exc
        meta = response.usage_metadata
        usage = TokenUsage(
            prompt_tokens=(meta.prompt_token_count or 0) if meta else 0,
            candidate_tokens=(meta.candidates_token_count or 0) if meta else 0,
            calls=1,
        )
        return response.text or "", usage

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[genai.Client]:
        if not self.options.api_key:
            raise PlannerUnavailable(
                "Gemini planner needs an API key: set SCENEFARM_GEMINI_API_KEY (the chart's "
                "gemini.existingSecret), or use planner.mode Template"
            )
        retry = types.HttpRetryOptions(
            attempts=self.options.retry_attempts,
            initial_delay=self.options.retry_initial_delay,
            max_delay=self.options.retry_max_delay,
            jitter=self.options.retry_jitter,
            http_status_codes=RETRY_STATUS_CODES,
        )
        # Our own session: the SDK's default one subclasses aiohttp.ClientSession, which aiohttp
        # deprecates (a DeprecationWarning on first use), and lives until its event loop ends.
        # trust_env: honour HTTPS_PROXY/NO_PROXY as the SDK's own session does.
        async with aiohttp.ClientSession(trust_env=True) as session:
            http = types.HttpOptions(
                base_url=self.options.base_url or None,
                api_version=API_VERSION,
                timeout=int(self.options.timeout_seconds * 1000),  # milliseconds
                retry_options=retry,
                aiohttp_client=session,
            )
            client = genai.Client(api_key=self.options.api_key, http_options=http)
            try:
                yield client
            finally:
                await client.aio.aclose()


def planner_from_settings(settings: Any) -> GeminiPlanner:
    """The Gemini planner for the operator's `Settings` (SCENEFARM_GEMINI_*)."""
    return GeminiPlanner(GeminiOptions.from_settings(settings))


def _turn(role: str, text: str) -> types.Content:
    return types.Content(role=role, parts=[types.Part(text=text)])


def _parse(schema: type[pydantic.BaseModel], text: str) -> tuple[Any, list[str]]:
    if not text.strip():
        return None, ["the answer was empty"]
    try:
        return schema.model_validate_json(text), []
    except pydantic.ValidationError as exc:
        return None, [f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()]


def _reask(errors: list[str]) -> str:
    shown = "\n".join(f"- {e}" for e in errors[:_ERRORS_SHOWN])
    more = f"\n- ... and {len(errors) - _ERRORS_SHOWN} more" if len(errors) > _ERRORS_SHOWN else ""
    return (
        "Your answer cannot be used:\n"
        f"{shown}{more}\n"
        "Answer again with the complete JSON, following the response schema and the code policy."
    )


def _api_error(exc: genai_errors.APIError, model: str) -> PlanningError:
    detail = f"Gemini answered {exc.code} {exc.status or ''}: {exc.message or ''}".strip()
    if exc.code == 429 or exc.code >= 500:
        return PlannerBusy(f"{detail} (after retries); will retry later")
    if exc.code in (401, 403):
        return PlannerUnavailable(f"{detail}; check the API key in SCENEFARM_GEMINI_API_KEY")
    if exc.code == 404:
        return PlanningError(f"{detail}; check the model name {model!r} (spec.planner.model)")
    return PlanningError(detail)
