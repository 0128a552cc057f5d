"""Publishes status.estimatedCompletionTime and status.cost, and keeps the ETA statistics.

Driven by the VideoRequest and Pod watches (see `handlers`), never by the reconcile loop: each
event recomputes both fields from the status, the request's Pods and the stored plan, and
patches them only when they changed (the ETA only when it moved noticeably), so the patch's own
event changes nothing and ends there. Scene durations feed per-namespace statistics that are
flushed to the `scenefarm-eta` ConfigMap at most every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from scenefarm_contract import phases
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.observe import cost, eta, metrics
from scenefarm_operator.observe.telemetry import Change, Telemetry
from scenefarm_operator.support.settings import Settings

logger = logging.getLogger(__name__)
Obj = Mapping[str, Any]
FLUSH_SECONDS = 5.0
ETA_INTERVAL = 15.0  # seconds between two ETA writes of one request in the same phase
ReadConfigMap = Callable[[str, str], Awaitable[Mapping[str, str] | None]]
WriteConfigMap = Callable[[str, str, Mapping[str, str]], Awaitable[None]]
PatchStatus = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]


class Accountant:
    def __init__(
        self,
        settings: Settings,
        telemetry: Telemetry,
        read_configmap: ReadConfigMap,
        write_stats: WriteConfigMap,
        patch_status: PatchStatus,
    ) -> None:
        self.settings = settings
        self.prices = cost.parse_prices(settings.llm_prices)
        self.telemetry = telemetry
        self.read_configmap = read_configmap
        self.write_stats = write_stats
        self.patch_status = patch_status
        self.stats: dict[str, dict[str, eta.Stat]] = {}  # namespace -> key -> running statistic
        self._dirty: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._usage: dict[str, tuple[tuple[Any, ...], dict[str, int]]] = {}  # uid -> (when read, usage)
        self._locks: dict[str, asyncio.Lock] = {}
        self._llm_seen: dict[str, dict[str, int]] = {}  # uid -> usage and errors already counted
        self._cost_phase: dict[str, str] = {}  # uid -> phase when its cost was last published
        self._eta_written: dict[str, tuple[str, float]] = {}  # uid -> (phase, time) of the last ETA write

    async def on_request(self, body: Obj, change: Change) -> None:
        meta = body["metadata"]
        namespace, uid = meta["namespace"], str(meta["uid"])
        if meta.get("deletionTimestamp"):
            return
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            stats = await self._stats(namespace)
            quality = self.quality(body)
            for seconds in change.finished_scenes:
                self._learn(namespace, quality, seconds)
            if change.combine_seconds is not None:
                self._learn(namespace, "combine", change.combine_seconds)
            await self._publish(body, stats, quality, first_sight=change.old_phase is None)

    async def fields(self, body: Obj, current: Obj) -> dict[str, Any]:
        """The ETA and cost of `body` (with the status the reconcile loop is about to write) that
        differ from `current` (what the server has): the loop writes them in the same patch, so
        a phase change and its ETA and cost are one status write, not two or three."""
        meta = body["metadata"]
        lock = self._locks.setdefault(str(meta["uid"]), asyncio.Lock())
        async with lock:
            stats = await self._stats(meta["namespace"])
            return await self._desired(body, current, stats, self.quality(body), forced=True)

    def forget(self, uid: str) -> None:
        self._usage.pop(uid, None)
        self._locks.pop(uid, None)
        self._llm_seen.pop(uid, None)
        self._cost_phase.pop(uid, None)
        self._eta_written.pop(uid, None)

    def count_llm(self, body: Obj, usage: Mapping[str, int], first_sight: bool) -> None:
        """Feed the LLM counters with what changed since the last look at this request.

        Tokens and calls come from plan.json (plan calls until the plan exists, fix calls after);
        errors from the status (planner outages and errors, fix-call outages and errors). A
        request first seen after a restart sets the baseline instead of being counted again.
        """
        status = body.get("status") or {}
        planning = status.get("planning") or {}
        healing = status.get("healing") or ()
        now = {
            **usage,
            "plan_errors": int(planning.get("outages") or 0) + (1 if planning.get("error") else 0),
            "fix_errors": sum(int(h.get("outages") or 0) + (1 if h.get("error") else 0) for h in healing),
        }
        uid = str(body["metadata"]["uid"])
        seen = self._llm_seen.get(uid)
        self._llm_seen[uid] = {k: max(v, (seen or {}).get(k, 0)) for k, v in now.items()}
        if seen is None:
            if first_sight and status.get("phase") not in (None, phases.PENDING, phases.PLANNING):
                return  # listed after a restart: counted by the previous process
            seen = {}
        spec = body.get("spec") or {}
        model = str((spec.get("planner") or {}).get("model") or self.settings.gemini_model)
        label = metrics.model_label(model, {*self.prices, self.settings.gemini_model})
        purpose = "plan" if not seen.get("calls") else "fix"
        calls = now["calls"] - seen.get("calls", 0)
        if calls > 0:
            prompt = now["prompt_tokens"] - seen.get("prompt_tokens", 0)
            candidate = now["candidate_tokens"] - seen.get("candidate_tokens", 0)
            metrics.LLM_CALLS.labels(label, purpose).inc(calls)
            metrics.LLM_TOKENS.labels(label, purpose, "prompt").inc(max(0, prompt))
            metrics.LLM_TOKENS.labels(label, purpose, "candidate").inc(max(0, candidate))
            usd = cost.llm_cost(model, max(0, prompt), max(0, candidate), self.prices)
            if usd is not None:
                metrics.LLM_COST.labels(label, purpose).inc(usd)
        for purpose in ("plan", "fix"):
            errors = now[f"{purpose}_errors"] - seen.get(f"{purpose}_errors", 0)
            if errors > 0:
                metrics.LLM_ERRORS.labels(label, purpose).inc(errors)

    def quality(self, body: Obj) -> str:
        return str(
            ((body.get("spec") or {}).get("render") or {}).get("quality") or self.settings.default_quality
        )

    async def _publish(
        self, body: Obj, stats: Mapping[str, eta.Stat], quality: str, first_sight: bool = False
    ) -> None:
        meta = body["metadata"]
        usage = await self._usage_of(body)
        self.count_llm(body, usage, first_sight)
        if not (body.get("status") or {}).get("phase"):
            return  # the reconcile loop's first status write carries the ETA and cost
        patch = await self._desired(body, body.get("status") or {}, stats, quality, forced=False)
        if patch:
            logger.debug("status of %s/%s: writing %s", meta["namespace"], meta["name"], sorted(patch))
            await self.patch_status(meta["namespace"], meta["name"], patch)

    async def _desired(
        self, body: Obj, current: Obj, stats: Mapping[str, eta.Stat], quality: str, *, forced: bool
    ) -> dict[str, Any]:
        """The ETA and cost fields to write over `current`. `forced`: the status is written anyway
        (the reconcile loop's patch), so any change goes with it; otherwise a write of their own
        happens only when the ETA moved noticeably, or the cost with a phase change or at the end."""
        meta, spec = body["metadata"], body.get("spec") or {}
        status = body.get("status") or {}
        now = time.time()
        patch: dict[str, Any] = {}
        at = eta.estimate(spec, status, stats, now, quality)
        old_eta = current.get("estimatedCompletionTime")
        if at is None:
            if old_eta is not None:
                patch["estimatedCompletionTime"] = None
        elif forced and old_eta != eta.format_time(at):
            patch["estimatedCompletionTime"] = eta.format_time(at)
            self._eta_written[str(meta["uid"])] = (str(status.get("phase") or phases.PENDING), now)
        elif eta.changed_enough(old_eta, eta.format_time(at), now) and self._eta_due(meta, status, now):
            patch["estimatedCompletionTime"] = eta.format_time(at)
        key = (meta["namespace"], naming.base_name(meta["name"], 63))
        usage = await self._usage_of(body)
        model = str((spec.get("planner") or {}).get("model") or self.settings.gemini_model)
        desired = cost.request_cost(
            model, usage, self.telemetry.render_seconds(key), current.get("cost"), self.prices
        )
        # The cost moves with every finished Pod: publish it with a phase change, with an ETA
        # update, or at the end, not once per Pod (status writes are what the API server pays for).
        uid = str(meta["uid"])
        phase = str(status.get("phase") or phases.PENDING)
        due = forced or patch or self._cost_phase.get(uid) != phase or phase in phases.TERMINAL
        if desired != current.get("cost") and due:
            patch["cost"] = desired
            self._cost_phase[uid] = phase
        return patch

    def _eta_due(self, meta: Obj, status: Obj, now: float) -> bool:
        """At most one ETA write per request every ETA_INTERVAL seconds within one phase."""
        uid, phase = str(meta["uid"]), str(status.get("phase") or phases.PENDING)
        last = self._eta_written.get(uid)
        if last is not None and last[0] == phase and now - last[1] < ETA_INTERVAL:
            return False
        self._eta_written[uid] = (phase, now)
        return True

    async def _usage_of(self, body: Obj) -> dict[str, int]:
        """Token usage as status.planner publishes it, else from plan.json (read when it may change)."""
        meta, status = body["metadata"], body.get("status") or {}
        planner = status.get("planner") or {}
        if "calls" in planner:
            return {
                "prompt_tokens": int(planner.get("promptTokens") or 0),
                "candidate_tokens": int(planner.get("candidateTokens") or 0),
                "calls": int(planner.get("calls") or 0),
            }
        mode = ((body.get("spec") or {}).get("planner") or {}).get("mode")
        if mode in ("Explicit", "Template") or (mode is None and (body.get("spec") or {}).get("scenes")):
            return {"prompt_tokens": 0, "candidate_tokens": 0, "calls": 0}
        revisions = tuple((s.get("index"), s.get("revision")) for s in status.get("scenes") or ())
        when = (status.get("phase"), revisions, len(status.get("healing") or ()))
        cached = self._usage.get(str(meta["uid"]))
        if cached is not None and cached[0] == when:
            return cached[1]
        data = await self.read_configmap(meta["namespace"], naming.plan_configmap_name(meta["name"]))
        usage = cost.usage_of(data)
        self._usage[str(meta["uid"])] = (when, usage)
        return usage

    async def _stats(self, namespace: str) -> dict[str, eta.Stat]:
        if namespace not in self.stats:
            try:
                data = await self.read_configmap(namespace, eta.CONFIGMAP)
            except Exception as e:  # no statistics is no reason to stop: the priors serve
                logger.warning("cannot read ETA statistics in %s: %s", namespace, e)
                data = None
            self.stats.setdefault(namespace, eta.stats_from_data(data or {}))
        return self.stats[namespace]

    def _learn(self, namespace: str, key: str, seconds: float) -> None:
        stats = self.stats.setdefault(namespace, {})
        stats[key] = stats.get(key, eta.Stat()).add(seconds)
        self._dirty.add(namespace)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for namespace in dirty:
            try:
                await self.write_stats(namespace, eta.CONFIGMAP, eta.stats_to_data(self.stats[namespace]))
            except Exception as e:
                logger.warning("cannot store ETA statistics in %s: %s", namespace, e)
                self._dirty.add(namespace)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()
