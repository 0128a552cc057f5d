"""Subresources that are not storage: pods/eviction and serviceaccounts/token (create only).

- `pods/<name>/eviction` (policy/v1 Eviction; pkg/registry/core/pod/storage/eviction.go): a
  PodDisruptionBudget selecting the Pod with no disruptions allowed answers 429; otherwise the Pod
  gets the `DisruptionTarget` condition (EvictionByEvictionAPI) and is deleted with the Eviction's
  deleteOptions; the answer is 201 with a Success Status.
- `serviceaccounts/<name>/token` (authentication.k8s.io/v1 TokenRequest; pkg/registry/core/
  serviceaccount/storage/token.go): a bearer token authenticating as
  `system:serviceaccount:<ns>:<name>`, answered as a TokenRequest with `status.token` and
  `status.expirationTimestamp` (expirationSeconds, default 3600, at least 600), 201.
Any other subresource of a create is 404, as the real router answers.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from scenefarm_devkit.apiserver import errors
from scenefarm_devkit.apiserver.operations import Api, now
from scenefarm_devkit.apiserver.resources import ResourceType
from scenefarm_devkit.apiserver.selectors import selects_labels

CREATE_SUBRESOURCES = {("pods", "eviction"), ("serviceaccounts", "token")}
DEFAULT_SERVICE_ACCOUNT = "default"
MIN_EXPIRATION_SECONDS = 600


class TooManyRequests(errors.ApiError):
    code = 429
    reason = "TooManyRequests"


def serve(
    api: Api,
    rt: ResourceType,
    *,
    tokens: dict[str, str],
    namespace: str,
    name: str,
    subresource: str,
    body: Any,
) -> dict[str, Any]:
    if (rt.plural, subresource) not in CREATE_SUBRESOURCES or rt.group != "":
        raise errors.NotFound("the server could not find the requested resource", details={})
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of the request was not a JSON object")
    if rt.plural == "pods":
        return _evict(api, rt, namespace, name, body)
    return _token(api, rt, tokens=tokens, namespace=namespace, name=name, body=body)


def _evict(api: Api, rt: ResourceType, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    pod = api.get(rt, namespace, name)
    labels = pod["metadata"].get("labels") or {}
    for pdb in api.store.scan("policy", "poddisruptionbudgets", namespace):
        selector = (pdb.get("spec") or {}).get("selector")
        if selector is None or not selects_labels(selector, labels):
            continue
        if int((pdb.get("status") or {}).get("disruptionsAllowed", 0)) <= 0:
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                details={
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {pdb['metadata']['name']} needs "
                            f"{(pdb.get('status') or {}).get('desiredHealthy', 0)} healthy pods and has "
                            f"{(pdb.get('status') or {}).get('currentHealthy', 0)} currently",
                        }
                    ]
                },
            )
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed"):
        status = dict(pod.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting",
                "lastTransitionTime": now(),
            }
        )
        api.replace(
            rt, namespace, name, pod | {"status": status | {"conditions": conditions}}, subresource="status"
        )
    api.delete(rt, namespace, name, body.get("deleteOptions") or {})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _token(
    api: Api, rt: ResourceType, *, tokens: dict[str, str], namespace: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    if name != DEFAULT_SERVICE_ACCOUNT:  # the service-account controller makes `default` everywhere
        api.get(rt, namespace, name)  # 404 for an unknown account
    spec = dict(body.get("spec") or {})
    seconds = int(spec.get("expirationSeconds") or 3600)
    if seconds < MIN_EXPIRATION_SECONDS:
        raise errors.invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.expirationSeconds",
                    "message": f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                }
            ],
        )
    token = secrets.token_urlsafe(32)
    tokens[token] = f"system:serviceaccount:{namespace}:{name}"
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    spec["expirationSeconds"] = seconds
    spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
