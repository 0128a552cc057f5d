"""A Job's completion-mode rules, as pkg/apis/batch/validation/validation.go checks them.

On create and update (validateJobSpec): `completions` is required for Indexed Jobs;
`backoffLimitPerIndex` and `maxFailedIndexes` need completionMode Indexed and are not negative;
`maxFailedIndexes` needs `backoffLimitPerIndex` and is at most `completions` (and 100000);
parallelism is at most 100000 for Indexed Jobs; above 100000 completions with a per-index
backoff limit, `maxFailedIndexes` is required and it and parallelism are at most 10000.
On update (ValidateJobSpecUpdate): completionMode and backoffLimitPerIndex are immutable.
An unset completionMode is NonIndexed, the real server's default.
Each function returns causes (`{"reason", "field", "message"}`) with the server's wording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Cause = dict[str, str]
INDEXED, NON_INDEXED = "Indexed", "NonIndexed"
MAX_PARALLELISM_FOR_INDEXED_JOB = 100_000
MAX_FAILED_INDEXES_FOR_INDEXED_JOB = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS = 10_000
_HIGH = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "field": field,
        "message": f"Invalid value: {json.dumps(value)}: {detail}",
    }


def _required(field: str, detail: str) -> Cause:
    return {"reason": "FieldValueRequired", "field": field, "message": f"Required value: {detail}"}


def _not_supported(field: str, value: Any) -> Cause:
    return {
        "reason": "FieldValueNotSupported",
        "field": field,
        "message": f'Unsupported value: {json.dumps(value)}: supported values: "{NON_INDEXED}", "{INDEXED}"',
    }


def completion_mode_causes(spec: Mapping[str, Any]) -> list[Cause]:
    """validateJobSpec's rules on completionMode, backoffLimitPerIndex and maxFailedIndexes."""
    causes: list[Cause] = []
    mode = spec.get("completionMode")
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    for name, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", max_failed)):
        if value is not None and value < 0:
            causes.append(_invalid(f"spec.{name}", value, "must be greater than or equal to 0"))
    if max_failed is not None and per_index is None:
        causes.append(_required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    if mode is not None and mode not in (NON_INDEXED, INDEXED):
        causes.append(_not_supported("spec.completionMode", mode))
    if mode == INDEXED:
        causes += _indexed_causes(completions, parallelism, per_index, max_failed)
    if mode in (None, NON_INDEXED):
        for name, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", max_failed)):
            if value is not None:
                causes.append(_invalid(f"spec.{name}", value, "requires indexed completion mode"))
    return causes


def _indexed_causes(completions: Any, parallelism: Any, per_index: Any, max_failed: Any) -> list[Cause]:
    causes: list[Cause] = []
    if completions is None:
        causes.append(_required("spec.completions", f"when completion mode is {INDEXED}"))
    if parallelism is not None and parallelism > MAX_PARALLELISM_FOR_INDEXED_JOB:
        limit = MAX_PARALLELISM_FOR_INDEXED_JOB
        detail = f"must be less than or equal to {limit} when completion mode is {INDEXED}"
        causes.append(_invalid("spec.parallelism", parallelism, detail))
    if completions is not None and max_failed is not None and max_failed > completions:
        causes.append(
            _invalid("spec.maxFailedIndexes", max_failed, "must be less than or equal to completions")
        )
    if max_failed is not None and max_failed > MAX_FAILED_INDEXES_FOR_INDEXED_JOB:
        detail = f"must be less than or equal to {MAX_FAILED_INDEXES_FOR_INDEXED_JOB}"
        causes.append(_invalid("spec.maxFailedIndexes", max_failed, detail))
    if completions is not None and completions > COMPLETIONS_SOFT_LIMIT and per_index is not None:
        if max_failed is None:
            causes.append(
                _required(
                    "spec.maxFailedIndexes",
                    f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}",
                )
            )
        if parallelism is not None and parallelism > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS:
            detail = f"must be less than or equal to {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} {_HIGH}"
            causes.append(_invalid("spec.parallelism", parallelism, detail))
        if max_failed is not None and max_failed > MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS:
            detail = f"must be less than or equal to {MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS} {_HIGH}"
            causes.append(_invalid("spec.maxFailedIndexes", max_failed, detail))
    return causes


def update_causes(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> list[Cause]:
    """ValidateJobSpecUpdate: completionMode and backoffLimitPerIndex never change."""
    causes: list[Cause] = []
    mode, old_mode = spec.get("completionMode") or NON_INDEXED, old_spec.get("completionMode") or NON_INDEXED
    if mode != old_mode:
        causes.append(_invalid("spec.completionMode", mode, "field is immutable"))
    if spec.get("backoffLimitPerIndex") != old_spec.get("backoffLimitPerIndex"):
        causes.append(
            _invalid("spec.backoffLimitPerIndex", spec.get("backoffLimitPerIndex"), "field is immutable")
        )
    return causes


# -- the rest of validateJobSpec, ValidateJob and ValidateJobSpecUpdate -------------------------

MAX_MANAGED_BY_LENGTH = 63
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DOMAIN_PREFIXED_PATH = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
)
JOB_CONTROLLER = "kubernetes.io/job-controller"
# What a suspended Job that never started may change in its template (AllowMutableSchedulingDirectives).
_SCHEDULING_DIRECTIVES = ("nodeSelector", "tolerations", "schedulingGates")


def restart_policy_causes(spec: Mapping[str, Any]) -> list[Cause]:
    """A Job's Pods never restart in place as Always would: OnFailure or Never, set explicitly."""
    template_spec = (spec.get("template") or {}).get("spec") or {}
    restart = template_spec.get("restartPolicy") or ""
    field = "spec.template.spec.restartPolicy"
    if restart in ("", "Always"):
        return [_required(field, 'valid values: "OnFailure", "Never"')]
    if restart not in ("OnFailure", "Never"):
        return [
            {
                "reason": "FieldValueNotSupported",
                "field": field,
                "message": f"Unsupported value: {json.dumps(restart)}: "
                'supported values: "OnFailure", "Never"',
            }
        ]
    return []


def policy_causes(spec: Mapping[str, Any]) -> list[Cause]:
    """successPolicy only for Indexed Jobs; managedBy a domain-prefixed path of at most 63."""
    causes: list[Cause] = []
    if spec.get("successPolicy") is not None and (spec.get("completionMode") or NON_INDEXED) != INDEXED:
        causes.append(
            _invalid("spec.successPolicy", spec["successPolicy"], "requires indexed completion mode")
        )
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        value = str(managed_by)
        if not _DOMAIN_PREFIXED_PATH.fullmatch(value):
            causes.append(
                _invalid("spec.managedBy", value, 'must be a domain-prefixed path (such as "acme.io/foo")')
            )
        if len(value) > MAX_MANAGED_BY_LENGTH:
            causes.append(
                {
                    "reason": "FieldValueTooLong",
                    "field": "spec.managedBy",
                    "message": f"Too long: may not be more than {MAX_MANAGED_BY_LENGTH} bytes",
                }
            )
    return causes


def hostname_causes(name: str, spec: Mapping[str, Any]) -> list[Cause]:
    """ValidateJob (create only): an Indexed Job's last hostname `<name>-<completions-1>` is a DNS label."""
    completions = spec.get("completions")
    if spec.get("completionMode") != INDEXED or not isinstance(completions, int) or completions <= 0:
        return []
    hostname = f"{name}-{completions - 1}"
    if len(hostname) <= 63 and _DNS1123_LABEL.fullmatch(hostname):
        return []
    return [
        _invalid("metadata.name", name, f"will not able to create pod with invalid DNS label: {hostname}")
    ]


def _immutable(field: str, value: Any) -> Cause:
    return _invalid(field, value, "field is immutable")


def immutable_causes(
    spec: Mapping[str, Any], old_spec: Mapping[str, Any], old_status: Mapping[str, Any]
) -> list[Cause]:
    """ValidateJobSpecUpdate: selector, template (scheduling directives of a suspended, never started
    Job excepted), completions (Indexed: only with parallelism, elastic Indexed Jobs), podFailurePolicy,
    managedBy and successPolicy never change."""
    causes: list[Cause] = []
    if spec.get("completions") != old_spec.get("completions"):
        indexed = spec.get("completionMode") == INDEXED
        if not indexed:
            causes.append(_immutable("spec.completions", spec.get("completions")))
        elif spec.get("completions") is not None and spec.get("completions") != spec.get("parallelism"):
            causes.append(
                _invalid(
                    "spec.completions",
                    spec.get("completions"),
                    "can only be modified in tandem with spec.parallelism",
                )
            )
    for name in ("selector", "podFailurePolicy", "managedBy", "successPolicy"):
        if spec.get(name) != old_spec.get(name):
            causes.append(_immutable(f"spec.{name}", spec.get(name)))
    template, old_template = dict(spec.get("template") or {}), dict(old_spec.get("template") or {})
    if old_spec.get("suspend") and not old_status.get("startTime"):
        template, old_template = _without_scheduling(template), _without_scheduling(old_template)
    if template != old_template:
        causes.append(_immutable("spec.template", spec.get("template")))
    return causes


def _without_scheduling(template: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (template.get("metadata") or {}).items() if k not in ("labels", "annotations")}
    spec = {k: v for k, v in (template.get("spec") or {}).items() if k not in _SCHEDULING_DIRECTIVES}
    affinity = spec.get("affinity")
    if isinstance(affinity, dict):
        rest = {k: v for k, v in affinity.items() if k != "nodeAffinity"}
        spec = {k: v for k, v in spec.items() if k != "affinity"} | ({"affinity": rest} if rest else {})
    return {**template, "metadata": meta, "spec": spec}


def managed_by_other(spec: Mapping[str, Any]) -> bool:
    """spec.managedBy names another controller: the built-in Job controller leaves the Job alone."""
    managed_by = spec.get("managedBy")
    return managed_by is not None and managed_by != JOB_CONTROLLER
