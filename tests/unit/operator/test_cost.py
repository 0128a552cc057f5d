import json

import pytest

from scenefarm_operator.observe import cost
from scenefarm_operator.support.errors import SettingsError

PRICES = cost.parse_prices('{"gemini-2.5-flash": {"inputPerMillion": 0.30, "outputPerMillion": 2.50}}')


def test_the_price_table_is_read_from_json() -> None:
    assert cost.parse_prices('{"m": {"inputPerMillion": 1, "outputPerMillion": 2}}') == {
        "m": cost.Price(1.0, 2.0)
    }
    assert "gemini-2.5-flash" in PRICES
    assert cost.parse_prices("") == {}


def test_a_malformed_price_table_is_refused_with_the_expected_shape() -> None:
    with pytest.raises(SettingsError, match="inputPerMillion"):
        cost.parse_prices('{"m": {"input": 1}}')


def test_llm_cost_uses_input_and_output_prices_per_million_tokens() -> None:
    assert cost.llm_cost("gemini-2.5-flash", 1_000_000, 200_000, PRICES) == pytest.approx(0.30 + 0.50)
    assert cost.llm_cost("unknown-model", 1000, 1000, PRICES) is None


def test_usage_is_read_from_plan_json() -> None:
    data = {"plan.json": json.dumps({"usage": {"prompt_tokens": 120, "candidate_tokens": 80, "calls": 2}})}
    assert cost.usage_of(data) == {"prompt_tokens": 120, "candidate_tokens": 80, "calls": 2}
    assert cost.usage_of(None) == {"prompt_tokens": 0, "candidate_tokens": 0, "calls": 0}
    assert cost.usage_of({"plan.json": "{"})["calls"] == 0


def test_render_seconds_add_up_termination_messages() -> None:
    assert cost.render_seconds([{"renderSeconds": 1.25}, {"renderSeconds": 2.5}, {}]) == 3.75


def test_request_cost_prices_the_tokens_of_a_known_model() -> None:
    usage = {"prompt_tokens": 2_000_000, "candidate_tokens": 0, "calls": 3}
    got = cost.request_cost("gemini-2.5-flash", usage, (12.5, 20.25), None, PRICES)
    assert got == {
        "llmCalls": 3,
        "llmPromptTokens": 2_000_000,
        "llmCandidateTokens": 0,
        "renderSeconds": 12.5,
        "cpuSeconds": 20.25,
        "llmModel": "gemini-2.5-flash",
        "llmCostUSD": "0.600000",
    }


def test_a_model_without_a_price_gets_tokens_but_no_cost() -> None:
    usage = {"prompt_tokens": 10, "candidate_tokens": 5, "calls": 1}
    got = cost.request_cost("other-model", usage, (0.0, 0.0), None, PRICES)
    assert got["llmModel"] == "other-model" and "llmCostUSD" not in got


def test_published_render_seconds_never_go_down_when_old_pods_are_deleted() -> None:
    zero = {"prompt_tokens": 0, "candidate_tokens": 0, "calls": 0}
    got = cost.request_cost(None, zero, (2.0, 1.0), {"renderSeconds": 30.0, "cpuSeconds": 40.0}, PRICES)
    assert (got["renderSeconds"], got["cpuSeconds"]) == (30.0, 40.0) and "llmModel" not in got
