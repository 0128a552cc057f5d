"""Built-in kinds checked against the official OpenAPI schemas that kubernetes-validate ships.

The real server decodes a built-in object into its Go type (a wrong type is a 400 that names the
Go field) and then validates it (a missing required field is a 422). Both are reproduced from the
JSON schemas of Kubernetes 1.37, for the kinds the operator and the Job runner write.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

import jsonschema
import referencing

SCHEMA_DIR = "kubernetes-json-schema/v1.37.0-local"
# (group, kind) -> schema file. The kinds scenefarm and its Job runner create or update.
VALIDATED = {
    ("", "Pod"): "pod-v1.json",
    ("batch", "Job"): "job-batch-v1.json",
    ("", "ConfigMap"): "configmap-v1.json",
    ("", "Event"): "event-v1.json",
    ("events.k8s.io", "Event"): "event-events-v1.json",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaim-v1.json",
}
Cause = dict[str, str]


def _load(name: str) -> Any:
    files = importlib.resources.files("kubernetes_validate").joinpath(f"{SCHEMA_DIR}/{name}")
    return json.loads(files.read_text(encoding="utf-8"))


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = _load(name)
    definitions = referencing.Resource.from_contents(_load("_definitions.json"))
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        [
            (definitions.id() or "", definitions),
            (schema.get("$id", ""), referencing.Resource.from_contents(schema)),
        ]
    )
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return validator


def _path(error: jsonschema.ValidationError) -> str:
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check(group: str, kind: str, obj: dict[str, Any]) -> tuple[list[str], list[Cause]]:
    """(decode errors -> 400, validation causes -> 422) for a built-in object; empty when fine."""
    name = VALIDATED.get((group, kind))
    if name is None:
        return [], []
    decode: list[str] = []
    causes: list[Cause] = []
    for error in sorted(_validator(name).iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]):
        field = _path(error)
        if error.validator == "required":
            missing = str(error.message).split("'")[1] if "'" in error.message else ""
            full = f"{field}.{missing}" if field else missing
            causes.append({"reason": "FieldValueRequired", "field": full, "message": "Required value"})
        elif error.validator == "enum":
            allowed = ", ".join(json.dumps(v) for v in error.validator_value if v is not None)
            causes.append(
                {
                    "reason": "FieldValueNotSupported",
                    "field": field,
                    "message": f"Unsupported value: {json.dumps(error.instance)}: "
                    f"supported values: {allowed}",
                }
            )
        else:
            decode.append(f"{field}: {error.message}")
    return decode, causes
