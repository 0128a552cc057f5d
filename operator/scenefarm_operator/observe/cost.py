"""Cost accounting of one VideoRequest: LLM tokens and their estimated price, render seconds.

Pure. Tokens come from the plan ConfigMap's plan.json (`usage`: every plan and fix call of the
request, stored with the plan so a restart loses nothing); prices from the chart's price table
(`cost.llmPrices`, SCENEFARM_LLM_PRICES) in US dollars per million tokens; render seconds from
the renderer's termination messages (`renderSeconds`: the wall time of the render inside the Pod;
`cpuSeconds`: the CPU time of the renderer and its render child).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_operator.support.errors import SettingsError

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float

    def of(self, prompt_tokens: int, candidate_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + candidate_tokens * self.output_per_million) / 1e6


def parse_prices(text: str) -> dict[str, Price]:
    """SCENEFARM_LLM_PRICES: {"model": {"inputPerMillion": 0.3, "outputPerMillion": 2.5}, ...}."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
        return {
            str(model): Price(float(p["inputPerMillion"]), float(p["outputPerMillion"]))
            for model, p in raw.items()
        }
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise SettingsError(
            "SCENEFARM_LLM_PRICES must be a JSON object of "
            '{"<model>": {"inputPerMillion": <USD>, "outputPerMillion": <USD>}}: ' + str(e)
        ) from None


def llm_cost(
    model: str, prompt_tokens: int, candidate_tokens: int, prices: Mapping[str, Price]
) -> float | None:
    """Estimated USD; None when the model has no price (the status then says so)."""
    price = prices.get(model)
    return None if price is None else price.of(prompt_tokens, candidate_tokens)


def usage_of(plan_data: Mapping[str, str] | None) -> dict[str, int]:
    """Token usage recorded in plan.json (zeros when there is no plan or no LLM was used)."""
    empty = {"prompt_tokens": 0, "candidate_tokens": 0, "calls": 0}
    if not plan_data or "plan.json" not in plan_data:
        return empty
    try:
        usage = json.loads(plan_data["plan.json"]).get("usage") or {}
        return {k: int(usage.get(k) or 0) for k in empty}
    except (AttributeError, TypeError, ValueError):
        return empty


def render_seconds(messages: Iterable[Mapping[str, Any]]) -> float:
    """Sum of renderSeconds over termination messages (already parsed to dicts)."""
    return round(sum(float(m.get("renderSeconds") or 0.0) for m in messages), 3)


def request_cost(
    model: str | None,
    usage: Mapping[str, int],
    rendered: tuple[float, float],
    previous: Obj | None,
    prices: Mapping[str, Price],
) -> dict[str, Any]:
    """status.cost of one request.

    `rendered` is (renderSeconds, cpuSeconds) of the request's Pods that exist now; finished Jobs
    are deleted after their TTL, so the published figures never go down (`previous`: the last
    status.cost).
    """
    previous = previous or {}
    tokens = {
        "promptTokens": max(usage.get("prompt_tokens", 0), int(previous.get("llmPromptTokens") or 0)),
        "candidateTokens": max(
            usage.get("candidate_tokens", 0), int(previous.get("llmCandidateTokens") or 0)
        ),
        "calls": max(usage.get("calls", 0), int(previous.get("llmCalls") or 0)),
    }
    cost: dict[str, Any] = {
        "llmCalls": tokens["calls"],
        "llmPromptTokens": tokens["promptTokens"],
        "llmCandidateTokens": tokens["candidateTokens"],
        "renderSeconds": max(round(rendered[0], 3), float(previous.get("renderSeconds") or 0.0)),
        "cpuSeconds": max(round(rendered[1], 3), float(previous.get("cpuSeconds") or 0.0)),
    }
    if model and tokens["calls"]:
        cost["llmModel"] = model
        usd = llm_cost(model, tokens["promptTokens"], tokens["candidateTokens"], prices)
        if usd is not None:
            cost["llmCostUSD"] = f"{usd:.6f}"
    return cost
