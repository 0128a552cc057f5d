"""The API server's own validation rules that no OpenAPI schema states, with the real messages.

Names (RFC 1123), label keys and values (63 characters), the 256 KiB annotation budget, the
1 MiB ConfigMap budget, container resources (standard names, requests <= limits) and a Job's
podFailurePolicy, as k8s.io/apimachinery/pkg/util/validation and pkg/apis/{core,batch}/validation
check them. Each function returns causes (`{"reason", "field", "message"}`); none raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from lightkube.utils.quantity import parse_quantity

Cause = dict[str, str]

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = rf"({_QUALIFIED_NAME})?"
ANNOTATIONS_LIMIT = 256 * 1024
CONFIGMAP_LIMIT = 1024 * 1024
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
# Kinds whose names must be DNS-1123 labels (63 characters) rather than subdomains.
LABEL_NAMED_KINDS = frozenset({"Namespace", "Service"})


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "field": field,
        "message": f"Invalid value: {json.dumps(value)}: {detail}",
    }


def _too_long(field: str, limit: int, unit: str = "bytes") -> Cause:
    return {
        "reason": "FieldValueTooLong",
        "field": field,
        "message": f"Too long: may not be more than {limit} {unit}",
    }


def name_causes(kind: str, name: str, field: str = "metadata.name") -> list[Cause]:
    """A lowercase RFC 1123 subdomain (253) or, for some kinds, label (63)."""
    if kind in LABEL_NAMED_KINDS:
        if len(name) > 63:
            return [_invalid(field, name, "must be no more than 63 characters")]
        if not re.fullmatch(DNS1123_LABEL, name):
            return [
                _invalid(
                    field,
                    name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                    f"regex used for validation is '{DNS1123_LABEL}')",
                )
            ]
        return []
    if len(name) > 253:
        return [_invalid(field, name, "must be no more than 253 characters")]
    if not re.fullmatch(DNS1123_SUBDOMAIN, name):
        return [
            _invalid(
                field,
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                f"for validation is '{DNS1123_SUBDOMAIN}')",
            )
        ]
    return []


def label_causes(labels: Mapping[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in labels.items():
        causes += _qualified_name_causes(str(key), field)
        text = "" if value is None else str(value)
        if len(text) > 63:
            causes.append(_invalid(f"{field}", text, "must be no more than 63 characters"))
        elif not re.fullmatch(_LABEL_VALUE, text):
            causes.append(
                _invalid(
                    field,
                    text,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')",
                )
            )
    return causes


def _qualified_name_causes(key: str, field: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    causes: list[Cause] = []
    if prefix and (len(prefix) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, prefix)):
        causes.append(_invalid(field, key, "prefix part a lowercase RFC 1123 subdomain must be valid"))
    if len(name) > 63:
        causes.append(_invalid(field, key, "name part must be no more than 63 characters"))
    elif not re.fullmatch(_QUALIFIED_NAME, name):
        causes.append(
            _invalid(
                field,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                f"used for validation is '{_QUALIFIED_NAME}')",
            )
        )
    return causes


def annotation_causes(annotations: Mapping[str, Any], field: str = "metadata.annotations") -> list[Cause]:
    total = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if total > ANNOTATIONS_LIMIT:
        return [_too_long(field, ANNOTATIONS_LIMIT)]
    return []


def configmap_causes(obj: Mapping[str, Any]) -> list[Cause]:
    size = sum(len(k) + len(str(v)) for k, v in (obj.get("data") or {}).items())
    size += sum(len(k) + len(str(v)) * 3 // 4 for k, v in (obj.get("binaryData") or {}).items())
    if size > CONFIGMAP_LIMIT:
        return [
            {
                "reason": "FieldValueTooLong",
                "field": "",
                "message": f"Too long: must have at most {CONFIGMAP_LIMIT} bytes",
            }
        ]
    return []


# ValidateSecret: the keys each well-known Secret type must carry in `data`.
SECRET_TYPE_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}
_IMMUTABLE_SET = "Forbidden: field is immutable when `immutable` is set"


def secret_causes(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidateSecret and ValidateSecretUpdate: required keys per type, type and immutable data fixed."""
    data = obj.get("data") or {}
    causes: list[Cause] = [
        {"reason": "FieldValueRequired", "field": f"data[{key}]", "message": "Required value"}
        for key in SECRET_TYPE_KEYS.get(str(obj.get("type") or ""), ())
        if key not in data
    ]
    if obj.get("type") == "kubernetes.io/service-account-token" and not (
        (obj.get("metadata") or {}).get("annotations") or {}
    ).get("kubernetes.io/service-account.name"):
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": "metadata.annotations[kubernetes.io/service-account.name]",
                "message": "Required value",
            }
        )
    if old is None:
        return causes
    if obj.get("type") != old.get("type"):
        causes.append(_invalid("type", obj.get("type"), "field is immutable"))
    return causes + immutable_data_causes(obj, old, ("data",))


def immutable_data_causes(
    obj: Mapping[str, Any], old: Mapping[str, Any], fields: tuple[str, ...] = ("data", "binaryData")
) -> list[Cause]:
    """ConfigMaps and Secrets with `immutable: true`: neither the flag nor the data change again."""
    if not old.get("immutable"):
        return []
    causes: list[Cause] = []
    if not obj.get("immutable"):
        causes.append({"reason": "FieldValueForbidden", "field": "immutable", "message": _IMMUTABLE_SET})
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            causes.append({"reason": "FieldValueForbidden", "field": field, "message": _IMMUTABLE_SET})
    return causes


def _quantity(value: Any) -> Decimal | None:
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _standard_or_qualified(name: str) -> bool:
    if name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return True
    prefix, _, rest = name.partition("/")
    return (
        bool(rest)
        and not prefix.endswith("kubernetes.io")
        and re.fullmatch(DNS1123_SUBDOMAIN, prefix) is not None
    )


def resource_causes(resources: Mapping[str, Any], field: str) -> list[Cause]:
    """Container resources: standard or fully qualified names, parseable quantities, requests <= limits."""
    causes: list[Cause] = []
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for part, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            where = f"{field}.{part}[{name}]"
            if not _standard_or_qualified(name):
                causes.append(_invalid(where, name, "must be a standard resource type or fully qualified"))
            quantity = _quantity(value)
            if quantity is None:
                causes.append(
                    _invalid(
                        where,
                        value,
                        "quantities must match the regular expression "
                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                    )
                )
            elif quantity < 0:
                causes.append(_invalid(where, value, "must be greater than or equal to 0"))
    for name, value in requests.items():
        request, limit = _quantity(value), _quantity(limits.get(name)) if name in limits else None
        if request is not None and limit is not None and request > limit:
            causes.append(
                _invalid(
                    f"{field}.requests",
                    str(value),
                    f"must be less than or equal to {name} limit of {limits[name]}",
                )
            )
    return causes


def pod_spec_causes(spec: Mapping[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    for kind in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(kind) or []):
            resources = container.get("resources") or {}
            causes += resource_causes(resources, f"{field}.{kind}[{i}].resources")
    return causes


def _rules(policy: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    yield from enumerate(policy.get("rules") or [])


def pod_failure_policy_causes(job_spec: Mapping[str, Any]) -> list[Cause]:
    """pkg/apis/batch/validation: restartPolicy Never, one requirement per rule, exit codes well formed."""
    policy = job_spec.get("podFailurePolicy")
    if not policy:
        return []
    base = "spec.podFailurePolicy"
    causes: list[Cause] = []
    template_spec = (job_spec.get("template") or {}).get("spec") or {}
    restart = template_spec.get("restartPolicy", "Always")
    if restart == "OnFailure":  # Always, unset or unknown: jobrules.restart_policy_causes says so
        causes.append(
            _invalid(
                "spec.template.spec.restartPolicy",
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    containers = {c.get("name") for c in (template_spec.get("containers") or [])} | {
        c.get("name") for c in (template_spec.get("initContainers") or [])
    }
    rules = list(_rules(policy))
    if len(rules) > 20:
        causes.append(
            {
                "reason": "FieldValueTooMany",
                "field": f"{base}.rules",
                "message": f"Too many: {len(rules)}: must have at most 20 items",
            }
        )
    for i, rule in rules:
        where = f"{base}.rules[{i}]"
        has_codes, has_conditions = "onExitCodes" in rule, "onPodConditions" in rule
        if has_codes == has_conditions:
            causes.append(
                _invalid(where, "", "specifying one of onExitCodes and onPodConditions is required")
            )
        if rule.get("action") == "FailIndex" and job_spec.get("backoffLimitPerIndex") is None:
            causes.append(
                _invalid(f"{where}.action", "FailIndex", "requires the backoffLimitPerIndex to be set")
            )
        if has_codes:
            causes += _exit_code_causes(rule["onExitCodes"], f"{where}.onExitCodes", containers)
    return causes


def _exit_code_causes(codes: Mapping[str, Any], where: str, containers: set[Any]) -> list[Cause]:
    causes: list[Cause] = []
    name = codes.get("containerName")
    if name is not None and name not in containers:
        causes.append(
            _invalid(
                f"{where}.containerName",
                name,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = list(codes.get("values") or [])
    if not values:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": f"{where}.values",
                "message": "Required value: at least one value is required",
            }
        )
    if len(values) > 255:
        causes.append(
            {
                "reason": "FieldValueTooMany",
                "field": f"{where}.values",
                "message": f"Too many: {len(values)}: must have at most 255 items",
            }
        )
    for j, value in enumerate(values):
        if codes.get("operator") == "In" and value == 0:
            causes.append(_invalid(f"{where}.values[{j}]", 0, "must not be 0 for the In operator"))
        if j and value == values[j - 1]:
            causes.append(
                {
                    "reason": "FieldValueDuplicate",
                    "field": f"{where}.values[{j}]",
                    "message": f"Duplicate value: {value}",
                }
            )
        elif j and value < values[j - 1]:
            causes.append(_invalid(f"{where}.values", values, "must be ordered"))
    return causes
