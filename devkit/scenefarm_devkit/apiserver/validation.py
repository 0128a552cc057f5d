"""Structural-schema handling for custom resources: pruning, defaulting, validation, CEL.

Messages and field paths follow the kube-apiserver so that clients (and people) see the same text
they would on a real cluster, e.g. `spec.topic: Required value`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from scenefarm_devkit.apiserver import cel

Cause = dict[str, str]
_ROOT_KEYS = ("apiVersion", "kind", "metadata")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return '"null"'


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    wanted = schema.get("type")
    if wanted is None:
        return True
    actual = _type_name(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field_schema(props: dict[str, Any] | None, extra: Any, key: str) -> dict[str, Any]:
    if props is not None and key in props:
        return dict(props[key])
    return dict(extra) if isinstance(extra, dict) else {}


def prune(value: Any, schema: dict[str, Any], path: str, unknown: list[str], *, root: bool = False) -> Any:
    """Drop fields the schema does not declare, recording them (for fieldValidation=Strict)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return value
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        result = {}
        for key, item in value.items():
            if root and key in _ROOT_KEYS:
                result[key] = item
            elif item is None and not _field_schema(props, extra, key).get("nullable"):
                continue  # a null in a non-nullable field is pruned, not refused (apiextensions)
            elif props is not None and key in props:
                result[key] = prune(item, props[key], _join(path, key), unknown)
            elif isinstance(extra, dict):
                result[key] = prune(item, extra, _join(path, key), unknown)
            elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                result[key] = item
            else:
                unknown.append(_join(path, key))
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return value


def apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


class _Walker:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, reason: str, path: str, message: str) -> None:
        self.causes.append({"reason": reason, "message": message, "field": path})

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.add("FieldValueInvalid", path, f"Invalid value: {_show(value)}: {detail}")

    def walk(self, value: Any, schema: dict[str, Any], path: str, old: Any, has_old: bool) -> None:
        if value is None:
            if not schema.get("nullable"):
                self.invalid(
                    path, value, f'{path} in body must be of type {schema.get("type", "object")}: "null"'
                )
            return
        if not _type_ok(value, schema):
            self.invalid(
                path, value, f'{path} in body must be of type {schema.get("type")}: "{_type_name(value)}"'
            )
            return
        self.scalar_rules(value, schema, path)
        if isinstance(value, dict):
            self.object_rules(value, schema, path, old, has_old)
        elif isinstance(value, list):
            self.array_rules(value, schema, path, old, has_old)
        self.cel_rules(value, schema, path, old, has_old)

    def scalar_rules(self, value: Any, schema: dict[str, Any], path: str) -> None:
        if "enum" in schema and value not in schema["enum"]:
            supported = ", ".join(_show(v) for v in schema["enum"])
            self.add(
                "FieldValueNotSupported",
                path,
                f"Unsupported value: {_show(value)}: supported values: {supported}",
            )
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.add("FieldValueTooLong", path, f"Too long: may not be longer than {schema['maxLength']}")
            if "minLength" in schema and len(value) < schema["minLength"]:
                self.invalid(
                    path, value, f"{path} in body should be at least {schema['minLength']} chars long"
                )
            if "pattern" in schema and re.search(schema["pattern"], value) is None:
                self.invalid(path, value, f"{path} in body should match '{schema['pattern']}'")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema and (
                value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"])
            ):
                op = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
                self.invalid(path, value, f"{path} in body should be {op} {schema['minimum']}")
            if "maximum" in schema and (
                value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"])
            ):
                op = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
                self.invalid(path, value, f"{path} in body should be {op} {schema['maximum']}")

    def object_rules(
        self, value: dict[str, Any], schema: dict[str, Any], path: str, old: Any, has_old: bool
    ) -> None:
        for key in schema.get("required", []):
            if key not in value:
                self.add("FieldValueRequired", _join(path, key), "Required value")
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None and not (path == "" and key in _ROOT_KEYS):
                self.walk(item, sub, _join(path, key), old_map.get(key), has_old and key in old_map)
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.add(
                "FieldValueTooMany",
                path,
                f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
            )

    def array_rules(
        self, value: list[Any], schema: dict[str, Any], path: str, old: Any, has_old: bool
    ) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.add(
                "FieldValueTooMany",
                path,
                f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.invalid(path, value, f"{path} in body should have at least {schema['minItems']} items")
        if schema.get("x-kubernetes-list-type") == "set" and len({json.dumps(v) for v in value}) < len(value):
            self.add("FieldValueDuplicate", path, "Duplicate value")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                # Transition rules inside lists need list-map keys to correlate; without them, no oldSelf.
                self.walk(item, items, f"{path}[{i}]", None, False)

    def cel_rules(self, value: Any, schema: dict[str, Any], path: str, old: Any, has_old: bool) -> None:
        for rule in schema.get("x-kubernetes-validations", []):
            expression = rule["rule"]
            if cel.uses_old_self(expression) and not has_old:
                continue  # transition rules apply to updates of an existing value only
            field = _join(path, rule["fieldPath"].lstrip(".")) if rule.get("fieldPath") else path
            try:
                ok = cel.check(expression, value, old, has_old=has_old)
            except ValueError as exc:
                self.invalid(field, value, f"rule evaluation error: {exc}")
                continue
            if ok:
                continue
            message = None
            if rule.get("messageExpression"):
                message = cel.message_from_expression(rule["messageExpression"], value, old, has_old=has_old)
            message = message or rule.get("message") or f"failed rule: {expression}"
            reason = {
                "FieldValueForbidden": "FieldValueForbidden",
                "FieldValueRequired": "FieldValueRequired",
                "FieldValueDuplicate": "FieldValueDuplicate",
            }.get(rule.get("reason", ""), "FieldValueInvalid")
            if reason == "FieldValueInvalid":
                self.invalid(field, value, message)
            else:
                self.add(reason, field, message)


def validate(obj: dict[str, Any], schema: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """All causes (empty when valid) for `obj` under the CRD version's openAPIV3Schema."""
    walker = _Walker()
    walker.walk(obj, schema, "", old, old is not None)
    return walker.causes


def admit(
    obj: dict[str, Any], schema: dict[str, Any], old: dict[str, Any] | None
) -> tuple[dict[str, Any], list[str], list[Cause]]:
    """Prune, default, validate: (object as stored, pruned field paths, causes)."""
    unknown: list[str] = []
    pruned = prune(obj, schema, "", unknown, root=True)
    defaulted = apply_defaults(pruned, schema)
    return defaulted, unknown, validate(defaulted, schema, old)
