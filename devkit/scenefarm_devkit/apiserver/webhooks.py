"""Dynamic admission: the ValidatingWebhookConfigurations and MutatingWebhookConfigurations of
admissionregistration.k8s.io/v1 are called as the real server calls them (apiserver
pkg/admission/plugin/webhook).

For each create or update (of the main resource or a subresource) the webhooks whose `rules`
match (operations, apiGroups, apiVersions, resources incl. `x/status`, `*`, `*/*`, scope) and whose
`namespaceSelector`/`objectSelector` select the object get an `admission.k8s.io/v1`
AdmissionReview at `clientConfig.url` (HTTPS verified against `caBundle`; a `service` reference
cannot be reached from the dev cluster and counts as a failed call). Mutating webhooks run first
and their JSONPatch is applied; validating webhooks run after validation. A denial is the real
`admission webhook "<name>" denied the request: <message>` with the webhook's code (at least 400);
a failed call answers 500 `failed calling webhook` under `failurePolicy: Fail` (the default) and
is skipped under `Ignore`. Warnings come back as `Warning: 299` headers.

The calls are synchronous: the dev server waits for the webhook (at most its timeoutSeconds,
default 10), so a webhook server must not run on the dev cluster's own event loop.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

import jsonpatch

from scenefarm_devkit.apiserver import errors
from scenefarm_devkit.apiserver.resources import ResourceType
from scenefarm_devkit.apiserver.selectors import selects_labels
from scenefarm_devkit.apiserver.store import DRY_RUN, Store

GROUP = "admissionregistration.k8s.io"
VALIDATING, MUTATING = "validatingwebhookconfigurations", "mutatingwebhookconfigurations"
# Warnings the webhooks of the request in flight returned (the handler turns them into headers).
WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("webhook_warnings", default=None)


def _rule_matches(rule: Mapping[str, Any], rt: ResourceType, operation: str, subresource: str) -> bool:
    def has(values: Any, value: str) -> bool:
        return "*" in (values or []) or value in (values or [])

    if not has(rule.get("operations"), operation) or not has(rule.get("apiGroups"), rt.group):
        return False
    if not has(rule.get("apiVersions"), rt.version):
        return False
    scope = rule.get("scope") or "*"
    if scope not in ("*", "Namespaced" if rt.namespaced else "Cluster"):
        return False
    for resource in rule.get("resources") or []:
        name, _, sub = resource.partition("/")
        if name not in ("*", rt.plural):
            continue
        if (not sub and not subresource) or sub == "*" or (sub and sub == subresource):
            return True
    return False


@dataclasses.dataclass(frozen=True)
class _Context:
    rt: ResourceType
    old: dict[str, Any] | None
    operation: str
    subresource: str
    username: str
    mutating: bool


class Webhooks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _matching(
        self, plural: str, rt: ResourceType, operation: str, subresource: str, obj: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or ""
        ns_labels: Mapping[str, str] = {}
        if namespace:
            ns = self.store.get(("", "namespaces", "", namespace)) or {}
            ns_labels = (ns.get("metadata") or {}).get("labels") or {}
        found = []
        for config in sorted(self.store.scan(GROUP, plural), key=lambda c: c["metadata"]["name"]):
            for hook in config.get("webhooks") or []:
                if not any(_rule_matches(r, rt, operation, subresource) for r in hook.get("rules") or []):
                    continue
                if rt.namespaced and not selects_labels(hook.get("namespaceSelector"), ns_labels):
                    continue
                if not selects_labels(hook.get("objectSelector"), meta.get("labels") or {}):
                    continue
                found.append(hook)
        return found

    def admit(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        subresource: str,
        username: str,
        mutating: bool,
    ) -> dict[str, Any]:
        """`obj` after the mutating (or validating) webhooks; raises their denial or failure."""
        if rt.group == GROUP:
            return obj  # webhook configurations are never subject to webhooks (as the real server)
        operation = "CREATE" if old is None else "UPDATE"
        hooks = self._matching(MUTATING if mutating else VALIDATING, rt, operation, subresource, obj)
        for hook in hooks:
            context = _Context(rt, old, operation, subresource, username, mutating)
            obj = self._call(hook, context, obj)
        return obj

    def _call(self, hook: Mapping[str, Any], context: _Context, obj: dict[str, Any]) -> dict[str, Any]:
        rt, old, operation, subresource = context.rt, context.old, context.operation, context.subresource
        username, mutating = context.username, context.mutating
        name = str(hook.get("name", ""))
        uid = str(uuid.uuid4())
        meta = obj.get("metadata") or {}
        request = {
            "uid": uid,
            "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": DRY_RUN.get(),
            "options": {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "CreateOptions" if operation == "CREATE" else "UpdateOptions",
            },
        }
        if subresource:
            request["subResource"] = request["requestSubResource"] = subresource
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        try:
            answer = _post(hook, review)
        except (OSError, ValueError) as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return obj
            raise errors.InternalError(
                f'Internal error occurred: failed calling webhook "{name}": {exc}'
            ) from exc
        response = answer.get("response") or {}
        warnings = WARNINGS.get()
        if warnings is not None:
            warnings.extend(str(w) for w in response.get("warnings") or [])
        if not response.get("allowed"):
            raise _denied(name, response.get("status") or {})
        patch = response.get("patch")
        if mutating and patch:
            try:
                operations = json.loads(base64.b64decode(patch))
                obj = jsonpatch.apply_patch(obj, operations)
            except (ValueError, jsonpatch.JsonPatchException) as exc:
                raise errors.InternalError(
                    f'Internal error occurred: failed calling webhook "{name}": invalid patch: {exc}'
                ) from exc
        return obj


class _WebhookDenied(errors.ApiError):
    def __init__(self, message: str, code: int, reason: str, details: dict[str, Any] | None) -> None:
        super().__init__(message, details=details)
        self.code = code
        self.reason = reason


def _denied(name: str, status: Mapping[str, Any]) -> errors.ApiError:
    """webhookerrors.ToStatusErr."""
    denied = f'admission webhook "{name}" denied the request'
    code = max(int(status.get("code") or 0), 400)
    message = status.get("message") or status.get("reason")
    text = f"{denied}: {message}" if message else f"{denied} without explanation"
    return _WebhookDenied(text, code, str(status.get("reason") or ""), status.get("details"))


def _post(hook: Mapping[str, Any], review: dict[str, Any]) -> dict[str, Any]:
    config = hook.get("clientConfig") or {}
    url = config.get("url")
    if not url:
        service = config.get("service") or {}
        raise OSError(
            f"service {service.get('namespace')}/{service.get('name')} is not reachable from the dev "
            "cluster (no cluster network): give the webhook a clientConfig.url"
        )
    context = None
    if str(url).startswith("https://"):
        context = ssl.create_default_context()
        if config.get("caBundle"):
            context = ssl.create_default_context(cadata=base64.b64decode(config["caBundle"]).decode())
    request = urllib.request.Request(  # noqa: S310 - the webhook's own URL, as the real server calls it
        str(url),
        data=json.dumps(review).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    timeout = float(hook.get("timeoutSeconds") or 10)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:  # noqa: S310
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        raise OSError(f"the server responded with status {exc.code}") from exc
    if not isinstance(body, dict):
        raise ValueError("the webhook answered no AdmissionReview")
    return body
