"""The HTTP face of the dev cluster: one aiohttp handler dispatching Kubernetes API requests."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp.web

from scenefarm_devkit.apiserver import (
    apply,
    discovery,
    errors,
    managedfields,
    openapi,
    openapi_v2,
    patching,
    podlogs,
    protobuf,
    remotecommand,
    reviews,
    scale,
    scc,
    selectors,
    subresources,
    tables,
    watching,
    webhooks,
)
from scenefarm_devkit.apiserver.admission import IDENTITY
from scenefarm_devkit.apiserver.authorization import Authorizer
from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.apiserver.fieldlabels import check as check_field_labels
from scenefarm_devkit.apiserver.operations import Api
from scenefarm_devkit.apiserver.requestlog import RequestLog, RequestRecord
from scenefarm_devkit.apiserver.resources import Registry, ResourceType
from scenefarm_devkit.apiserver.routing import Route, route
from scenefarm_devkit.apiserver.store import DRY_RUN, Key, Store

# The identity a bearer token the server never issued (or revoked: credentials.rotate) is given.
UNKNOWN_TOKEN = "unknown-token"  # noqa: S105 - a sentinel identity, not a secret
# How long the watch cache waits for a resourceVersion it has not seen (waitUntilFreshAndBlock).
RESOURCE_VERSION_WAIT_SECONDS = 3.0


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> aiohttp.web.Response:
    warnings = [*(warnings or []), *(webhooks.WARNINGS.get() or [])]  # and the admission webhooks'
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
    return aiohttp.web.Response(
        # body= (bytes), not text=: aiohttp would append "; charset=utf-8", and clients such as
        # lightkube compare the Content-Type with "application/json" exactly, as the real server sends it.
        body=json.dumps(body).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class ApiServer:
    """Kubernetes API semantics over HTTP; `address` is set by the lifecycle once it listens."""

    def __init__(
        self,
        *,
        request_log: RequestLog,
        tokens: dict[str, str],
        bookmark_interval: float = 5.0,
        history_size: int = 10_000,
        journal: Path | None = None,
    ) -> None:
        self.registry = Registry()
        self.store = Store(history_size=history_size, journal=journal)
        for crd in self.store.scan("apiextensions.k8s.io", "customresourcedefinitions"):
            self.registry.register_crd(crd)  # kinds of a restored store are served again
        self.api = Api(self.registry, self.store)
        self.store.before_put = self.track_fields
        self.request_log = request_log
        self.tokens = tokens
        self.faults: list[FaultRule] = []
        self.bookmark_interval = bookmark_interval
        self.address = "127.0.0.1:0"
        # RBAC for chosen identities (DevCluster(enforce_rbac_for=...)); None: everyone may do anything.
        self.authorizer: Authorizer | None = None
        # Directories of the kubelet stand-ins: <root>/<namespace>/<pod>/ (logs, exec contexts).
        self.pod_roots: list[Path] = []

    def identity(self, request: aiohttp.web.BaseRequest) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:].strip(), UNKNOWN_TOKEN)
        return "anonymous"

    async def handle(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        started = time.time()
        identity = self.identity(request)
        IDENTITY.set(identity)  # admission plugins authorize as the requester
        webhooks.WARNINGS.set([])  # what this request's admission webhooks warn about
        watch = request.query.get("watch", "") in ("true", "1")
        r = route(request.method, request.path, watch)
        status = 500
        try:
            response = await self.dispatch(request, r, identity)
            status = response.status
            return response
        except errors.ApiError as exc:
            status = exc.code
            return _json(exc.status(), status=exc.code)
        finally:
            self.request_log.append(
                RequestRecord(
                    time=started,
                    method=request.method,
                    path=request.path,
                    query=request.query_string,
                    verb=r.verb,
                    group=r.group,
                    version=r.version,
                    resource=r.plural,
                    namespace=r.namespace,
                    name=r.name,
                    subresource=r.subresource,
                    status=status,
                    identity=identity,
                    user_agent=request.headers.get("User-Agent", ""),
                )
            )

    async def dispatch(
        self, request: aiohttp.web.BaseRequest, r: Route, identity: str
    ) -> aiohttp.web.StreamResponse:
        if identity == UNKNOWN_TOKEN:  # a revoked or expired token: 401, the client logs in again
            raise errors.Unauthorized("Unauthorized")
        if r.discovery:
            return self.serve_discovery(r, request.headers.get("Accept", ""))
        if self.authorizer is not None:  # before the resource lookup, like the real server's filter chain
            self.authorizer.check(identity, r)
        rt = self.registry.get(r.group, r.version, r.plural) if r.plural else None
        if rt is None or (r.namespace and not rt.namespaced):
            raise errors.NotFound("the server could not find the requested resource")
        answer_lost = False
        for rule in self.faults:
            fault = rule.check(r.verb, r.plural, identity)
            if fault is not None and rule.lose_answer:
                answer_lost = True  # applied below, but the client never hears back
            elif fault is not None:
                raise fault
        if answer_lost:
            await self.serve_write(request, r, rt)
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("injected fault: the answer to this write was lost")
        if (
            (rt.group, rt.plural) in reviews.KINDS
            or (rt.plural == "pods" and r.subresource in ("log", "exec"))
            or (r.subresource == "scale" and (rt.group, rt.plural) in scale.SCALABLE)
        ):
            return await self.serve_special(request, r, rt, identity)
        if r.verb in ("watch", "list", "deletecollection"):
            check_field_labels(rt, request.query.get("fieldSelector"))  # a short list per kind
        if r.verb in ("watch", "list", "get"):
            return await self.serve_read(request, r, rt)
        return await self.serve_write(request, r, rt)

    async def serve_special(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType, identity: str
    ) -> aiohttp.web.StreamResponse:
        """Requests that are not plain storage: access reviews, Pod logs and exec, scale."""
        if r.subresource == "scale":
            manager = request.query.get("fieldManager") or managedfields.manager_from_user_agent(
                request.headers.get("User-Agent", "")
            )
            managedfields.WRITER.set(managedfields.Writer(manager))
            DRY_RUN.set(request.query.get("dryRun") == "All")
            body = await self.body(request) if r.verb in ("update", "patch") else None
            content_type = request.headers.get("Content-Type", "")
            scaled = scale.serve(
                self.api, rt, r.verb, r.namespace, r.name, body=body, content_type=content_type
            )
            return _json(scaled)
        if (rt.group, rt.plural) not in reviews.KINDS:
            return await self.serve_pod_io(request, r)
        if r.verb != "create":
            raise errors.MethodNotAllowed(f"the server does not allow this method on {rt.plural}")
        return _json(reviews.answer(rt, await self.body(request), identity, self.authorizer), status=201)

    async def serve_pod_io(self, request: aiohttp.web.BaseRequest, r: Route) -> aiohttp.web.StreamResponse:
        """What the real server proxies to the kubelet: container logs and exec streams."""
        if r.subresource == "log" and r.verb == "get":
            return await podlogs.serve(self.store, self.pod_roots, request, r.namespace, r.name)
        if r.subresource == "exec" and r.verb in ("get", "create"):
            return await remotecommand.serve(self.store, self.pod_roots, request, r.namespace, r.name)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def serve_read(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType
    ) -> aiohttp.web.StreamResponse:
        namespace = r.namespace if rt.namespaced else ""
        if r.verb == "watch":
            return await watching.serve(
                request,
                rt,
                namespace or None,
                r.name,
                store=self.store,
                api=self.api,
                bookmark_interval=self.bookmark_interval,
            )
        await self.wait_for_resource_version(request.query.get("resourceVersion", ""))
        if r.verb == "list":
            return self.serve_list(request, rt, namespace or None)
        if r.subresource not in ("", "status"):
            raise errors.NotFound("the server could not find the requested resource")
        return self.render_one(request, rt, self.api.get(rt, namespace, r.name))

    async def wait_for_resource_version(self, asked: str) -> None:
        """A read at a resourceVersion the store has not reached waits for it (3 s), then 504."""
        if asked in ("", "0"):
            return
        try:
            wanted = int(asked)
        except ValueError as exc:
            raise errors.BadRequest(f"invalid resource version: {asked}") from exc
        deadline = time.monotonic() + RESOURCE_VERSION_WAIT_SECONDS
        while wanted > self.store.resource_version:
            if time.monotonic() >= deadline:
                raise errors.too_large_resource_version(wanted, self.store.resource_version)
            await asyncio.sleep(0.05)

    async def serve_write(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType
    ) -> aiohttp.web.Response:
        namespace = r.namespace if rt.namespaced else ""
        strict = request.query.get("fieldValidation", "") == "Strict"
        subresource = r.subresource or None
        special = await self.write_modes(request, r, rt, namespace, strict)
        if special is not None:
            return special
        if r.subresource and r.verb in ("create", "delete", "deletecollection"):
            return await self.serve_subresource_write(request, r, rt, namespace)
        if r.verb == "create":
            if self.api.admission.openshift and (rt.group, rt.plural) == ("", "pods"):
                await scc.wait_for_ranges(self.store, namespace)  # a new namespace's are a moment away
            obj, warnings = self.api.create(rt, namespace or None, await self.body(request), strict=strict)
            return _json(obj, status=201, warnings=warnings)
        if r.verb == "update":
            body = await self.body(request)
            self.keep_managed_fields(rt, namespace, r.name, body)
            obj, warnings = self.api.replace(
                rt, namespace, r.name, body, subresource=subresource, strict=strict
            )
            return _json(obj, warnings=warnings)
        if r.verb == "patch":
            content_type, body = request.headers.get("Content-Type", ""), await self.body(request)
            obj, warnings = self.api.patch(
                rt, namespace, r.name, content_type, body, subresource=subresource, strict=strict
            )
            return _json(obj, warnings=warnings)
        if r.verb in ("delete", "deletecollection"):
            return await self.serve_delete(request, r, rt, namespace)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def serve_delete(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType, namespace: str
    ) -> aiohttp.web.Response:
        options = await self.delete_options(request)
        warnings = _orphaning_job_default(rt, options)
        if r.verb == "delete":
            return _json(self.api.delete(rt, namespace, r.name, options), warnings=warnings)
        return self.delete_collection(request, rt, namespace or None, options, warnings)

    async def serve_subresource_write(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType, namespace: str
    ) -> aiohttp.web.Response:
        """pods/eviction and serviceaccounts/token answer 201; no other subresource is created or deleted."""
        if r.verb != "create":
            raise errors.NotFound("the server could not find the requested resource", details={})
        answer = subresources.serve(
            self.api, rt, tokens=self.tokens, namespace=namespace, name=r.name,
            subresource=r.subresource, body=await self.body(request),
        )  # fmt: skip
        return _json(answer, status=201)

    async def write_modes(
        self, request: aiohttp.web.BaseRequest, r: Route, rt: ResourceType, namespace: str, strict: bool
    ) -> aiohttp.web.Response | None:
        """Field manager of this write, dryRun=All, and server-side apply; a response if that is all."""
        manager = request.query.get("fieldManager", "")
        default_manager = manager or managedfields.manager_from_user_agent(
            request.headers.get("User-Agent", "")
        )
        # Set on every write: requests on one keep-alive connection share one task's context.
        managedfields.WRITER.set(managedfields.Writer(default_manager, subresource=r.subresource))
        DRY_RUN.set(request.query.get("dryRun") == "All")  # all steps run, nothing is stored
        if DRY_RUN.get():
            if r.verb in ("delete", "deletecollection"):
                return (
                    _json(self.api.get(rt, namespace, r.name))
                    if r.name
                    else self.serve_list(request, rt, namespace or None)
                )
        elif "dryRun" in request.query:
            raise errors.BadRequest(
                f'dryRun: Unsupported value: {request.query["dryRun"]!r}: supported values: "All"'
            )
        if (
            r.verb == "patch"
            and "force" in request.query
            and not patching.is_apply(request.headers.get("Content-Type", ""))
        ):
            raise apply.patch_options_invalid(
                "force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"
            )
        if r.verb == "patch" and patching.is_apply(request.headers.get("Content-Type", "")):
            force = request.query.get("force", "") in ("true", "1")
            obj, warnings, code = apply.server_side_apply(
                self.api, rt, namespace, r.name, await request.read(), manager=manager, force=force,
                subresource=r.subresource, strict=strict,
            )  # fmt: skip
            return _json(obj, status=code, warnings=warnings)
        return None

    def keep_managed_fields(self, rt: ResourceType, namespace: str, name: str, body: Any) -> None:
        """A PUT without managedFields keeps the stored ones, as the real server does."""
        live = self.store.get(self.api.key(rt, namespace, name))
        meta = body.get("metadata") if isinstance(body, dict) else None
        missing = isinstance(meta, dict) and "managedFields" not in meta
        if live is not None and missing and "managedFields" in live["metadata"]:
            meta["managedFields"] = live["metadata"]["managedFields"]  # type: ignore[index]

    def track_fields(self, key: Key, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        types = [rt for rt in self.registry.all() if (rt.group, rt.plural) == key[:2]]
        if types:
            managedfields.track(
                old, new, builtin=types[0].builtin, has_status=types[0].has_status,
                api_version=new.get("apiVersion") or types[0].api_version,
            )  # fmt: skip

    async def body(self, request: aiohttp.web.BaseRequest) -> Any:
        raw = await request.read()
        if raw and protobuf.is_protobuf(request.headers.get("Content-Type", "")):
            return protobuf.decode_object(raw)  # kubectl's typed clients send built-in kinds so
        try:
            return json.loads(raw) if raw else None
        except ValueError as exc:
            raise errors.BadRequest(f"the body of the request was not valid JSON: {exc}") from exc

    async def delete_options(self, request: aiohttp.web.BaseRequest) -> dict[str, Any]:
        options = await self.body(request) or {}
        if not isinstance(options, dict):
            raise errors.BadRequest("DeleteOptions must be an object")
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if "gracePeriodSeconds" in request.query:
            try:
                options["gracePeriodSeconds"] = int(request.query["gracePeriodSeconds"])
            except ValueError as exc:
                raise errors.BadRequest(f"gracePeriodSeconds: {exc}") from exc
        return options

    def serve_discovery(self, r: Route, accept: str = "") -> aiohttp.web.Response:
        if r.discovery == "health":
            return aiohttp.web.Response(text="ok")
        if r.discovery == "openapi-v2":
            body, content_type = openapi_v2.response_body(self.registry, accept)
            return aiohttp.web.Response(body=body, headers={"Content-Type": content_type})
        documents: dict[str, Callable[[], dict[str, Any]]] = {
            "version": lambda: discovery.VERSION,
            "root": lambda: discovery.root_paths(self.registry),
            "api": lambda: discovery.api_versions(self.address),
            "apis": lambda: discovery.group_list(self.registry),
            "group": lambda: discovery.group(self.registry, r.group),
            "groupversion": lambda: discovery.resource_list(self.registry, r.group, r.version),
            "openapi": lambda: (
                openapi.gv_document(self.registry, r.plural) if r.plural else openapi.root(self.registry)
            ),
        }
        if r.discovery not in documents:
            raise errors.NotFound("the server could not find the requested resource")
        return _json(documents[r.discovery]())

    def select(
        self, request: aiohttp.web.BaseRequest, rt: ResourceType, namespace: str | None
    ) -> list[dict[str, Any]]:
        matches = selectors.matcher(request.query.get("labelSelector"), request.query.get("fieldSelector"))
        return [
            self.api.present(rt, o) for o in self.store.scan(rt.group, rt.plural, namespace) if matches(o)
        ]

    def serve_list(
        self, request: aiohttp.web.BaseRequest, rt: ResourceType, namespace: str | None
    ) -> aiohttp.web.Response:
        items = self.select(request, rt, namespace)
        rv = str(self.store.resource_version)
        list_meta: dict[str, Any] = {}
        cont = request.query.get("continue")
        if cont:
            try:
                after, rv = json.loads(base64.urlsafe_b64decode(cont.encode()))
            except ValueError as exc:
                raise errors.BadRequest("continue key is not valid") from exc
            items = [o for o in items if _sort_key(o) > tuple(after)]
        limit = int(request.query.get("limit", "0") or 0)
        if limit and len(items) > limit:
            last = _sort_key(items[limit - 1])
            list_meta = {
                "continue": base64.urlsafe_b64encode(json.dumps([last, rv]).encode()).decode(),
                "remainingItemCount": len(items) - limit,
            }
            items = items[:limit]
        if tables.wants_table(request.headers.get("Accept", "")):
            include = request.query.get("includeObject", "Metadata")
            return _json(tables.table(rt, items, rv, include, list_meta=list_meta))
        return _json(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv} | list_meta,
                "items": items,
            }
        )

    def render_one(
        self, request: aiohttp.web.BaseRequest, rt: ResourceType, obj: dict[str, Any]
    ) -> aiohttp.web.Response:
        if tables.wants_table(request.headers.get("Accept", "")):
            include = request.query.get("includeObject", "Metadata")
            return _json(tables.table(rt, [obj], obj["metadata"]["resourceVersion"], include))
        return _json(obj)

    def delete_collection(
        self,
        request: aiohttp.web.BaseRequest,
        rt: ResourceType,
        namespace: str | None,
        options: dict[str, Any],
        warnings: list[str] | None = None,
    ) -> aiohttp.web.Response:
        deleted = []
        for obj in self.select(request, rt, namespace):
            meta = obj["metadata"]
            if self.store.get(self.api.key(rt, meta.get("namespace"), meta["name"])) is not None:
                deleted.append(self.api.delete(rt, meta.get("namespace"), meta["name"], options))
        return _json(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            },
            warnings=warnings,
        )


JOB_DELETE_WARNING = (
    "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to "
    "remove them or set propagationPolicy=Orphan to suppress this warning"
)


def _orphaning_job_default(rt: ResourceType, options: dict[str, Any]) -> list[str]:
    """batch/v1 Jobs default to orphaning their Pods (registry/batch/job/storage): say so, as it does."""
    if (rt.group, rt.version, rt.plural) != ("batch", "v1", "jobs"):
        return []
    if options.get("propagationPolicy") or options.get("orphanDependents") is not None:
        return []
    options["propagationPolicy"] = "Orphan"
    return [JOB_DELETE_WARNING]


def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
