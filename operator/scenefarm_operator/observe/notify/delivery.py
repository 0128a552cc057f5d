"""Sending webhook events: at-least-once, bounded retries with backoff, state kept in the cluster.

One task per VideoRequest with pending events. Each attempt: resolve the target (allowlist or
Secret), resolve its host once and refuse non-public destinations, POST the signed CloudEvent to
one of the addresses just checked (the URL's host goes in the Host header and, for https, in SNI
and certificate verification) without following redirects or proxies, then record the attempt in
the request's ledger annotation. A 2xx answer delivers; a 3xx, a refused destination or an
unusable target ends the event at once (retrying cannot help); anything else (timeouts, 5xx, 4xx,
connection errors) is retried after 2, 4, 8, ... seconds until `notify_max_attempts`. A restarted
operator reads the ledger and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx2
import kopf

from scenefarm_operator.observe import metrics
from scenefarm_operator.observe.notify import events, ledger, signing, targets
from scenefarm_operator.support.settings import Settings

logger = logging.getLogger(__name__)
Obj = Mapping[str, Any]
MAX_EVENT_AGE_SECONDS = 86400.0  # a request that finished longer ago than this is not announced
MAX_ADDRESSES_TRIED = 3  # checked addresses tried in turn while connecting fails (each with the timeout)
SecretReader = Callable[[str, str], Awaitable[Mapping[str, str] | None]]
AnnotationWriter = Callable[[str, str, Mapping[str, str | None]], Awaitable[None]]


class Notifier:
    """Delivers the CloudEvents that VideoRequest statuses call for."""

    def __init__(
        self,
        settings: Settings,
        read_secret: SecretReader,
        write_annotations: AnnotationWriter,
        resolve: targets.Resolver = targets.system_resolver,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.allowlist = targets.parse_allowlist(settings.notify_targets, settings.notify_keys_dir)
        self.read_secret = read_secret
        self.write_annotations = write_annotations
        self.resolve = resolve
        self.transport = transport
        self._latest: dict[str, Obj] = {}  # uid -> latest body seen
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._books: dict[str, ledger.Ledger] = {}  # uid -> ledger as last written by this process

    def consider(self, body: Obj) -> None:
        """Called for every VideoRequest event: start or wake its sender when events are due."""
        uid = str(body["metadata"]["uid"])
        if body["metadata"].get("deletionTimestamp") or not events.due(body):
            return
        self._latest[uid] = body
        task = self._tasks.get(uid)
        if task is None or task.done():
            self._wake[uid] = asyncio.Event()
            self._tasks[uid] = asyncio.create_task(self._run(uid), name=f"notify/{uid}")
        else:
            self._wake[uid].set()

    def forget(self, uid: str) -> None:
        task = self._tasks.pop(uid, None)
        if task is not None:
            task.cancel()
        self._latest.pop(uid, None)
        self._wake.pop(uid, None)
        self._books.pop(uid, None)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no sender is running (tests)."""
        while any(not t.done() for t in self._tasks.values()):
            await asyncio.sleep(0.05)

    async def _run(self, uid: str) -> None:
        # What this process wrote last wins over the body's annotation, which may lag behind it.
        book = self._books.get(uid)
        while True:
            body = self._latest[uid]
            if book is None:
                book = ledger.load(body["metadata"].get("annotations"))
            due = [e for e in events.due(body) if _recent(e)]
            by_id = {e.id: e for e in due}
            ready, wait = ledger.due_now(book, list(by_id), time.time())
            for event_id in ready:
                book = self._books[uid] = await self._attempt(body, book, by_id[event_id])
            if ready:
                continue  # look again: the attempts may have scheduled retries
            if wait is None:
                return
            wake = self._wake[uid]
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait)):  # not wait_for: it can swallow a cancel
                    await wake.wait()

    async def _attempt(self, body: Obj, book: ledger.Ledger, event: events.CloudEvent) -> ledger.Ledger:
        meta = body["metadata"]
        spec_notify = (body.get("spec") or {}).get("notify") or {}
        final, ok, error = False, False, ""
        try:
            target = await self._target(meta["namespace"], spec_notify)
            destination = await targets.check_destination(target, self.resolve)
            ok, final, error = await self._post(target, destination, event)
        except targets.TargetError as e:
            final, error = True, str(e)
        s = self.settings
        book, entry = ledger.recorded(
            book,
            event.id,
            event.type,
            ok=ok,
            error=error,
            now=time.time(),
            max_attempts=s.notify_max_attempts,
            base=s.notify_backoff_seconds,
            final=final,
        )
        metrics.WEBHOOK_DELIVERIES.labels(_result_label(entry)).inc()
        if entry.result in (ledger.ABANDONED, ledger.REFUSED):
            why = "refused" if entry.result == ledger.REFUSED else f"given up after {entry.attempts} attempts"
            message = f"{event.type} to {targets.describe(spec_notify)} {why}: {entry.error}"
            with contextlib.suppress(Exception):
                kopf.warn(dict(body), reason="WebhookFailed", message=message)  # type: ignore[arg-type]
            logger.warning("%s/%s: %s", meta["namespace"], meta["name"], message)
        try:
            await self.write_annotations(
                meta["namespace"], meta["name"], {ledger.ANNOTATION: ledger.dump(book)}
            )
        except Exception as e:  # the next event or the resync records it; delivery goes on
            logger.warning("cannot record webhook delivery state on %s: %s", meta["name"], e)
        return book

    async def _target(self, namespace: str, spec_notify: Obj) -> targets.Target:
        name = spec_notify.get("target")
        if name:
            target = self.allowlist.get(str(name))
            if target is None:
                known = ", ".join(sorted(self.allowlist)) or "none are configured"
                raise targets.TargetError(
                    f"spec.notify.target {name!r} is not an allowlisted target ({known})"
                )
            if not target.key:
                raise targets.TargetError(f"allowlisted target {name!r} has no signing key file")
            return target
        secret = str((spec_notify.get("secretRef") or {}).get("name") or "")
        if not self.settings.notify_secret_refs:
            raise targets.TargetError(
                "spec.notify.secretRef is disabled by the operator (chart value notify.secretRefs); "
                "use spec.notify.target with an allowlisted name"
            )
        return targets.from_secret(secret, await self.read_secret(namespace, secret))

    async def _post(
        self, target: targets.Target, destination: targets.Destination, event: events.CloudEvent
    ) -> tuple[bool, bool, str]:
        """(delivered, final, error) of one POST, to the checked addresses only."""
        sends = _sends(target.url, destination)
        body = event.body()
        headers = {
            "Content-Type": "application/cloudevents+json; charset=utf-8",
            "User-Agent": "scenefarm-operator",
            "Ce-Id": event.id,
            signing.HEADER: signing.sign(target.key, body, int(time.time())),
        }
        timeout = httpx2.Timeout(self.settings.notify_timeout_seconds)
        no_answer = f"no answer within {self.settings.notify_timeout_seconds}s"
        error = ""
        for url, pinned_headers, extensions in sends[:MAX_ADDRESSES_TRIED]:
            try:
                async with httpx2.AsyncClient(
                    follow_redirects=False, timeout=timeout, transport=self.transport, trust_env=False
                ) as client:
                    response = await client.post(
                        url, content=body, headers=headers | pinned_headers, extensions=extensions
                    )
            except httpx2.ConnectTimeout:  # nothing was sent: the next address may answer
                error = no_answer
                continue
            except httpx2.ConnectError as e:
                error = f"{type(e).__name__}: {e}"
                continue
            except httpx2.TimeoutException:
                return False, False, no_answer
            except httpx2.HTTPError as e:
                return False, False, f"{type(e).__name__}: {e}"
            if 200 <= response.status_code < 300:
                return True, False, ""
            if 300 <= response.status_code < 400:
                return False, True, f"answered {response.status_code} redirect; redirects are not followed"
            return False, False, f"answered HTTP {response.status_code}"
        return False, False, error


Send = tuple[httpx2.URL, dict[str, str], dict[str, Any]]


def _sends(url_text: str, destination: targets.Destination) -> list[Send]:
    """(URL, extra headers, request extensions) per checked address, in the resolver's order.

    The URL names the address itself, so the client connects there without resolving anything;
    the Host header and, for https, the `sni_hostname` extension (httpcore2 uses it for SNI and
    for verifying the certificate) carry the URL's host. Without checked addresses (allowPrivate
    targets) the URL is sent as it is.
    """
    try:
        url = httpx2.URL(url_text)
    except httpx2.InvalidURL as e:
        raise targets.TargetError(f"webhook URL is invalid: {e}") from None
    if not destination.addresses:
        return [(url, {}, {})]
    if not _same_host(url.host, destination.host):
        raise targets.TargetError(
            f"webhook URL's host reads as {url.host!r} to the HTTP client but {destination.host!r} "
            "to the address check; refused"
        )
    headers = {"Host": url.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return [(url.copy_with(host=address), headers, extensions) for address in destination.addresses]


def _same_host(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.lower() == b.lower()


def _recent(event: events.CloudEvent) -> bool:
    from scenefarm_operator.observe.eta import parse_time

    at = parse_time(event.time)
    return at is None or time.time() - at < MAX_EVENT_AGE_SECONDS


def _result_label(entry: ledger.Entry) -> str:
    return {ledger.PENDING: "failed"}.get(entry.result, entry.result)
