"""The opt-in Grafana dashboard and PrometheusRule: rendered only when asked, every PromQL expression
parses (promql-parser, the Rust PromQL parser's Python binding), and every metric they query is one the
operator exposes (its registry's exposition, parsed with prometheus_client's parser)."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scenefarm_operator.observe import metrics

from .chartkit import Manifest, RenderError, of_kind, render_values

ENABLED = {
    "metrics": {"enabled": True, "grafanaDashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}
}


def queries(manifests: list[Manifest]) -> list[str]:
    exprs = []
    for cm in of_kind(manifests, "ConfigMap"):
        if "scenefarm.json" in cm.get("data", {}):
            dashboard = json.loads(cm["data"]["scenefarm.json"])
            exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    for rule in of_kind(manifests, "PrometheusRule"):
        exprs += [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
    return exprs


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def exposed_names(text: str) -> set[str]:
    """Every series name the exposition has or declares (a labelled counter with no samples yet
    is declared by its HELP/TYPE lines: name_total, or name_bucket/_sum/_count for a histogram)."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
        names |= {sample.name for sample in family.samples}
    return names


class NoRequests:
    def phase_counts(self) -> dict[str, int]:
        return {}

    def oldest_in_phase(self, now: float) -> dict[str, float]:
        return {}

    def queued_scenes(self) -> int:
        return 0

    def unsynced(self) -> int:
        return 0


def operator_exposition() -> str:
    scrape = CollectorRegistry()
    scrape.register(metrics.RequestCollector(NoRequests(), lambda: None))
    return generate_latest(metrics.REGISTRY).decode() + generate_latest(scrape).decode()


def test_nothing_is_rendered_unless_asked_for() -> None:
    manifests = render_values({"metrics": {"enabled": True}})
    assert queries(manifests) == [] and of_kind(manifests, "PrometheusRule") == []


def test_the_dashboard_and_rules_need_the_metrics_endpoint() -> None:
    with pytest.raises(RenderError, match=r"need metrics\.enabled"):
        render_values({"metrics": {"prometheusRule": {"enabled": True}}})


def test_the_dashboard_is_labelled_for_the_grafana_sidecar() -> None:
    values = {"metrics": ENABLED["metrics"] | {"grafanaDashboard": {"enabled": True, "folder": "Video"}}}
    (cm,) = [c for c in of_kind(render_values(values), "ConfigMap") if "scenefarm.json" in c["data"]]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Video"
    titles = {p["title"] for p in json.loads(cm["data"]["scenefarm.json"])["panels"]}
    assert {
        "Throughput",
        "Requests by phase",
        "Queue",
        "Appwrite health",
        "LLM cost (last 24 h, USD)",
    } <= titles


def test_the_rules_alert_on_stuck_requests_failures_appwrite_and_llm_errors() -> None:
    (rule,) = of_kind(render_values(ENABLED), "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "ScenefarmRequestStuck",
        "ScenefarmHighFailureRatio",
        "ScenefarmAppwriteUnsynced",
        "ScenefarmLLMErrors",
    } <= alerts


def test_every_promql_expression_parses() -> None:
    exprs = queries(render_values(ENABLED))
    assert len(exprs) >= 20
    for expr in exprs:
        promql_parser.parse(expr)  # raises ValueError naming the problem


def test_a_broken_expression_is_caught_by_the_parser() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(scenefarm_requests_finished_total[5m])")


def test_every_metric_the_dashboard_and_rules_query_is_exposed_by_the_operator() -> None:
    exposed = exposed_names(operator_exposition())
    queried = set().union(*(metric_names(e) for e in queries(render_values(ENABLED))))
    assert queried and queried - exposed == set()


def test_no_metric_has_a_request_name_or_uid_label() -> None:
    for family in text_string_to_metric_families(operator_exposition()):
        for sample in family.samples:
            assert not {"name", "uid", "request", "namespace"} & set(sample.labels), sample
