"""/openapi/v2: the Swagger 2.0 document helm and kubectl's client-side validation download.

client-go reads it only as protobuf (gnostic's `openapi_v2.Document`), so it is encoded here
with the field numbers of gnostic-models' OpenAPIv2.proto. Its definitions carry every custom
resource's schema (with `x-kubernetes-group-version-kind`, which validation looks kinds up by)
and ObjectMeta; built-in kinds are left out on purpose: client-side validation skips kinds it
finds no schema for, and this server validates them itself.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import yaml

from scenefarm_devkit.apiserver import openapi
from scenefarm_devkit.apiserver.resources import Registry

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what client-go asks for
# What the real server answers with: Go's mime parser refuses the "@" of the requested name.
PROTOBUF_RESPONSE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_DROPPED = {"nullable", "anyOf", "oneOf", "allOf", "not", "x-kubernetes-validations"}


def document(registry: Registry) -> dict[str, Any]:
    custom = [rt for rt in registry.all() if not rt.builtin]
    definitions = {
        name: _v2_form(schema)
        for name, schema in openapi.schemas_for(custom).items()
        if name.startswith("io.k8s.apimachinery") or not name.startswith("io.k8s.")
    }
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.36.0"},
        "paths": {},
        "definitions": definitions,
    }


def _v2_form(node: Any) -> Any:
    if isinstance(node, list):
        return [_v2_form(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {k: _v2_form(v) for k, v in node.items() if k not in _DROPPED}
    if isinstance(result.get("$ref"), str):
        result["$ref"] = result["$ref"].replace("#/components/schemas/", "#/definitions/")
    return result


# -- protobuf (gnostic openapi_v2) ------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode()) if text else b""


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(int(value))


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value))


def _any(value: Any) -> bytes:
    """gnostic Any: the value as YAML (field 2)."""
    return _string(2, yaml.safe_dump(value, default_flow_style=True).strip() or "null")


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + _bytes(2, _any(value))


def _named_schema(name: str, schema: dict[str, Any]) -> bytes:
    return _string(1, name) + _bytes(2, encode_schema(schema))


_NUMBERS = (("maximum", 7, "d"), ("minimum", 9, "d"), ("maxLength", 11, "i"), ("minLength", 12, "i"),
            ("maxItems", 14, "i"), ("minItems", 15, "i"), ("maxProperties", 17, "i"),
            ("minProperties", 18, "i"))  # fmt: skip


def _scalars(schema: dict[str, Any]) -> bytes:
    out = _string(1, schema.get("$ref", "")) + _string(2, schema.get("format", ""))
    out += _string(4, schema.get("description", ""))
    if "default" in schema:
        out += _bytes(5, _any(schema["default"]))
    for key, number, kind in _NUMBERS:
        if key in schema:
            out += _double(number, schema[key]) if kind == "d" else _int(number, schema[key])
    out += _string(13, schema.get("pattern", ""))
    out += b"".join(_string(19, name) for name in schema.get("required") or [])
    out += b"".join(_bytes(20, _any(value)) for value in schema.get("enum") or [])
    if schema.get("type"):
        out += _bytes(22, _string(1, schema["type"]))
    return out


def encode_schema(schema: dict[str, Any]) -> bytes:
    out = bytearray(_scalars(schema))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, encode_schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _int(2, int(extra)))
    if isinstance(schema.get("items"), dict):
        out += _bytes(23, _bytes(1, encode_schema(schema["items"])))
    properties = schema.get("properties") or {}
    if properties:
        out += _bytes(25, b"".join(_bytes(1, _named_schema(k, v)) for k, v in properties.items()))
    for key, value in schema.items():
        if key.startswith("x-"):
            out += _bytes(31, _named_any(key, value))
    return bytes(out)


def encode(doc: dict[str, Any]) -> bytes:
    info = _string(1, doc["info"]["title"]) + _string(2, doc["info"]["version"])
    definitions = b"".join(_bytes(1, _named_schema(k, v)) for k, v in doc["definitions"].items())
    return _string(1, doc["swagger"]) + _bytes(2, info) + _bytes(8, b"") + _bytes(9, definitions)


def response_body(registry: Registry, accept: str) -> tuple[bytes, str]:
    """The document as protobuf when asked for (client-go always asks), JSON otherwise."""
    doc = document(registry)
    if PROTOBUF in accept or PROTOBUF_RESPONSE in accept:
        return encode(doc), PROTOBUF_RESPONSE
    return json.dumps(doc).encode(), "application/json"
