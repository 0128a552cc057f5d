"""Operator settings: every SCENEFARM_* variable, read once into one frozen object.

No other module reads the environment. Helm values -> env -> `Settings` -> kopf settings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from scenefarm_contract.renderer import QUALITIES
from scenefarm_operator.support.errors import SettingsError

STORES = ("Volume", "Appwrite")


@dataclasses.dataclass(frozen=True)
class Settings:
    renderer_image: str = "ghcr.io/scenefarm/renderer:0.1.0"
    renderer_pull_policy: str = "IfNotPresent"
    render_service_account: str = "scenefarm-render"
    artifact_store: str = "Volume"
    artifact_claim: str = "scenefarm-artifacts"
    default_quality: str = "low"
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    max_running_scene_jobs: int = 20  # cluster-wide cap on running scene Jobs
    kueue_queue_name: str = ""
    # OpenShift (the chart's `openshift: true`): render Pods carry no runAsUser/runAsGroup/fsGroup,
    # the restricted-v2 SCC assigns the namespace's UID range.
    openshift: bool = False
    log_level: str = "INFO"
    reconcile_debounce_seconds: float = 0.05  # coalesces bursts of child events into one pass
    resync_seconds: float = 30.0  # a reconcile at least this often, even with no events
    appwrite_endpoint: str = ""
    appwrite_project: str = ""
    appwrite_api_key: str = dataclasses.field(default="", repr=False)
    appwrite_database: str = "scenefarm"
    appwrite_bucket: str = "videos"
    appwrite_credentials_secret: str = ""
    appwrite_on_delete: str = "Delete"  # Delete: rows and files go with the VideoRequest; Retain: marked
    gemini_api_key: str = dataclasses.field(default="", repr=False)
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str = ""
    finished_job_ttl_seconds: int = 86400  # finished Jobs are deleted this long after they end
    oom_memory_cap: str = "8Gi"  # OOM-killed scenes retry with doubled memory up to this
    transient_retries: int = 3  # exit class 30 (storage, network): automatic retries per scene
    retry_base_seconds: float = 10.0  # first transient retry after this; doubles each time
    planner_retry_base_seconds: float = 15.0  # planner outages: next try after this, doubling, 5 tries
    # A scene Job whose Pod cannot be created or scheduled this long is reported (Event + condition).
    pod_start_grace_seconds: float = 60.0
    # Keys: pod, plan, stitch, combine (seconds), replay (share of a frame), low..fourk (s per frame),
    # cores (CPUs the request's Pods share; the dev cluster sets its machine's), pod_cores.
    # The chunking cost model's costs over its defaults, "key=value,..." (e.g. "pod=2,replay=0.02")
    cost_model: str = ""
    # Observability (docs/observability.md).
    metrics_port: int = 0  # Prometheus metrics on this port; 0: no metrics server
    log_format: str = "text"  # text, or json: one JSON object per line with namespace/name/uid/phase
    llm_prices: str = ""  # JSON {model: {"inputPerMillion": USD, "outputPerMillion": USD}}
    # Webhook targets a VideoRequest may name in spec.notify.target: JSON [{name, url, allowPrivate}].
    notify_targets: str = ""
    notify_keys_dir: str = ""  # one file per allowlisted target name holding its signing key
    notify_secret_refs: bool = False  # allow spec.notify.secretRef (the operator reads that Secret)
    notify_max_attempts: int = 8  # deliveries of one event before it is given up
    notify_backoff_seconds: float = 2.0  # first retry after this; doubles each time, capped at 300 s
    notify_timeout_seconds: float = 5.0  # per delivery attempt
    # The web intake (docs/appwrite.md): Appwrite request rows -> VideoRequests in this namespace.
    intake_namespace: str = ""  # empty: no web intake
    intake_poll_seconds: float = 1.0  # how often new request rows are looked for
    intake_planner_modes: tuple[str, ...] = ("Template",)  # planner modes a web request may ask for
    intake_qualities: tuple[str, ...] = ("low", "medium")  # render qualities a web request may ask for
    intake_max_active_per_user: int = 2  # unfinished web requests per user
    intake_max_per_user_per_day: int = 20  # web requests per user in any 24 hours
    intake_max_active_per_source: int = 6  # unfinished web requests per client address (guests included)
    intake_max_per_source_per_day: int = 60  # web requests per client address in any 24 hours
    intake_max_active_total: int = 20  # unfinished web requests of all users together
    intake_max_total_per_day: int = 500  # web requests of all users together in any 24 hours
    intake_anonymous: bool = False  # guests (anonymous sessions) may submit too; off: signed-up users only
    intake_max_topic_length: int = 200
    intake_max_description_length: int = 2000
    intake_max_scenes: int = 6  # planner.maxScenes of a web request
    # Leader election (docs/reliability.md): one active replica, holding this coordination.k8s.io
    # Lease. Empty: no election (a lone `kopf run`, e.g. beside the dev cluster).
    leader_election_lease: str = ""
    leader_election_namespace: str = ""  # the Lease's namespace (the chart: the release's)
    leader_election_identity: str = ""  # this replica's name in the Lease (the chart: the Pod name)
    lease_duration_seconds: float = 15.0  # a standby takes over this long after the last renewal
    renew_deadline_seconds: float = 10.0  # a leader that has not renewed this long stops acting
    retry_period_seconds: float = 2.0  # between two tries to acquire or renew
    health_port: int = 0  # a standby answers the liveness/readiness probes on this port (0: no)

    @property
    def appwrite_enabled(self) -> bool:
        return bool(self.appwrite_endpoint and self.appwrite_project and self.appwrite_api_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get("SCENEFARM_" + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.artifact_store not in STORES:
            raise SettingsError(f"SCENEFARM_ARTIFACT_STORE must be one of {', '.join(STORES)}")
        if self.default_quality not in QUALITIES:
            raise SettingsError(f"SCENEFARM_DEFAULT_QUALITY must be one of {', '.join(QUALITIES)}")
        if self.appwrite_on_delete not in ("Delete", "Retain"):
            raise SettingsError("SCENEFARM_APPWRITE_ON_DELETE must be Delete or Retain")
        if self.max_running_scene_jobs < 1:
            raise SettingsError("SCENEFARM_MAX_RUNNING_SCENE_JOBS must be at least 1")
        if self.log_format not in ("text", "json"):
            raise SettingsError("SCENEFARM_LOG_FORMAT must be text or json")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError("SCENEFARM_METRICS_PORT must be a port number (0: off)")
        if self.notify_max_attempts < 1:
            raise SettingsError("SCENEFARM_NOTIFY_MAX_ATTEMPTS must be at least 1")
        if self.intake_namespace:
            self.check_intake()
        if self.leader_election_lease:
            self.check_leader_election()

    def check_leader_election(self) -> None:
        if not self.leader_election_namespace:
            raise SettingsError("SCENEFARM_LEADER_ELECTION_LEASE needs SCENEFARM_LEADER_ELECTION_NAMESPACE")
        if not 0 < self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise SettingsError(
                "leader election needs 0 < SCENEFARM_RETRY_PERIOD_SECONDS < SCENEFARM_RENEW_DEADLINE_SECONDS"
                " < SCENEFARM_LEASE_DURATION_SECONDS (a leader stops acting before a standby may take over)"
            )

    def check_intake(self) -> None:
        if self.intake_namespace == "default":
            raise SettingsError(
                "SCENEFARM_INTAKE_NAMESPACE must be a namespace of its own (e.g. scenefarm-web), not default:"
                " web requests must never share a namespace with requests users make with the CLI"
            )
        if not self.appwrite_enabled or not self.appwrite_credentials_secret:
            raise SettingsError(
                "SCENEFARM_INTAKE_NAMESPACE needs Appwrite: web requests are read from its rows and their "
                "videos are stored in its Storage (set SCENEFARM_APPWRITE_ENDPOINT, _PROJECT, _API_KEY "
                "and _CREDENTIALS_SECRET)"
            )
        if not self.intake_planner_modes or set(self.intake_planner_modes) - {"Template", "Gemini"}:
            raise SettingsError("SCENEFARM_INTAKE_PLANNER_MODES must list Template and/or Gemini")
        if not self.intake_qualities or set(self.intake_qualities) - set(QUALITIES):
            raise SettingsError(f"SCENEFARM_INTAKE_QUALITIES must list some of {', '.join(QUALITIES)}")
        limits = (
            self.intake_max_active_per_user,
            self.intake_max_per_user_per_day,
            self.intake_max_active_per_source,
            self.intake_max_per_source_per_day,
            self.intake_max_active_total,
            self.intake_max_total_per_day,
            self.intake_max_scenes,
        )
        if min(limits) < 1 or self.intake_max_topic_length < 1 or self.intake_poll_seconds <= 0:
            raise SettingsError("SCENEFARM_INTAKE_* limits must be at least 1 (poll seconds above 0)")


def _parse(name: str, kind: object, raw: str) -> object:
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind in ("bool", bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if kind in ("tuple[str, ...]",):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"SCENEFARM_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
