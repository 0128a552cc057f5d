"""CRDs: the chart's copy never drifts, every schema is structural, every example validates."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from .chartkit import CHART, REPO, load_yaml_docs

SOURCE_CRD = REPO / "crds" / "scenefarm.dev_videorequests.yaml"
CHART_CRD_FILES = sorted((CHART / "crds").glob("*.yaml"))
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

# Keywords a structural schema may use (apiextensions.k8s.io/v1 JSONSchemaProps, minus $ref,
# definitions, dependencies, additionalItems, patternProperties, id, $schema: all rejected in v1).
ALLOWED_KEYWORDS = {
    "type", "format", "title", "description", "default", "example", "enum", "nullable",
    "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "multipleOf",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "items", "properties", "additionalProperties",
    "allOf", "anyOf", "oneOf", "not", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations",
}  # fmt: skip
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
# Inside a junctor only value validations may appear (structural rule 3).
FORBIDDEN_IN_JUNCTORS = {"type", "description", "default", "additionalProperties", "nullable", "title"}


def crd_docs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in CHART_CRD_FILES:
        for doc in load_yaml_docs(path):
            yield f"{path.name}:{doc['metadata']['name']}", doc


CRDS = dict(crd_docs())


def versions_of(crd: dict[str, Any]) -> list[dict[str, Any]]:
    return list(crd["spec"]["versions"])


def walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its JSON path (`.spec.scenes[]`, `.spec.render.resources.requests{}`)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")
    for junctor in JUNCTORS:
        children = node.get(junctor)
        for child in children if isinstance(children, list) else [children] if children else []:
            yield from walk(child, f"{path}<{junctor}>")


def structural_problems(schema: dict[str, Any]) -> list[str]:
    problems = []
    for path, node in walk(schema, ""):
        in_junctor = "<" in path
        unknown = set(node) - ALLOWED_KEYWORDS
        if unknown:
            problems.append(f"{path or '.'}: keywords not allowed in a CRD schema: {sorted(unknown)}")
        if in_junctor:
            bad = FORBIDDEN_IN_JUNCTORS & set(node)
            if bad:
                problems.append(f"{path}: {sorted(bad)} inside allOf/anyOf/oneOf/not")
            continue
        exempt = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        if not node.get("type") and not exempt:
            problems.append(f"{path or '.'}: no type")
        if node.get("type") == "array" and "items" not in node:
            problems.append(f"{path}: array without items")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties and additionalProperties together")
        if node.get("additionalProperties") is False:
            problems.append(f"{path}: additionalProperties: false is not allowed (pruning does it)")
        if node.get("uniqueItems") is True:
            problems.append(f"{path}: uniqueItems: true is rejected by apiextensions/v1")
        if node.get("x-kubernetes-preserve-unknown-fields") is False:
            problems.append(f"{path}: x-kubernetes-preserve-unknown-fields: false is meaningless")
    metadata = schema.get("properties", {}).get("metadata", {})
    if set(metadata.get("properties", {})) - {"name", "generateName"}:
        problems.append(".metadata: only name and generateName may be constrained")
    return problems


def test_the_charts_videorequest_crd_is_identical_to_the_single_source() -> None:
    assert (CHART / "crds" / SOURCE_CRD.name).read_bytes() == SOURCE_CRD.read_bytes(), "run `make crds-sync`"


def test_the_sync_script_reports_no_drift() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "hack" / "sync_crds.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_chart_ships_the_videorequest_crd_only() -> None:
    # No kopf peering CRDs: one replica acts through the leader-election Lease (docs/reliability.md).
    names = {doc["metadata"]["name"] for doc in CRDS.values()}
    assert names == {"videorequests.scenefarm.dev"}


@pytest.mark.parametrize("crd", CRDS.values(), ids=CRDS.keys())
def test_every_crd_carries_the_helm_keep_policy(crd: dict[str, Any]) -> None:
    assert crd["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep"


@pytest.mark.parametrize("crd", CRDS.values(), ids=CRDS.keys())
def test_every_crd_schema_is_structural(crd: dict[str, Any]) -> None:
    for version in versions_of(crd):
        assert structural_problems(version["schema"]["openAPIV3Schema"]) == []


@pytest.mark.parametrize("crd", CRDS.values(), ids=CRDS.keys())
def test_unknown_fields_are_preserved_only_under_status(crd: dict[str, Any]) -> None:
    # Everything a user writes is validated and pruned; only operator-owned status may be opaque.
    for version in versions_of(crd):
        for path, node in walk(version["schema"]["openAPIV3Schema"], ""):
            if node.get("x-kubernetes-preserve-unknown-fields"):
                assert path.startswith(".status"), path


def test_the_structural_check_catches_the_classic_mistakes() -> None:
    broken = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"a": {"description": "untyped"}, "b": {"type": "array"}},
                "additionalProperties": {"type": "string"},
                "anyOf": [{"type": "object", "required": ["a"]}],
            },
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        },
    }
    problems = "\n".join(structural_problems(broken))
    for expected in ("spec.a: no type", "array without items", "properties and additionalProperties",
                     "inside allOf/anyOf/oneOf/not", "only name and generateName"):  # fmt: skip
        assert expected in problems


def test_there_are_examples_to_validate() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_validates_against_the_crd_schema(example: Path) -> None:
    crd = load_yaml_docs(SOURCE_CRD)[0]
    served = {f"{crd['spec']['group']}/{v['name']}": v for v in versions_of(crd) if v["served"]}
    for doc in load_yaml_docs(example):
        assert doc["kind"] == crd["spec"]["names"]["kind"]
        schema = served[doc["apiVersion"]]["schema"]["openAPIV3Schema"]
        jsonschema.Draft4Validator(schema).validate(doc)
