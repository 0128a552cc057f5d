"""What each operator setting means, for `scenefarm operator --help` and the docs.

Keyed by the `Settings` field; the variable is `SCENEFARM_<FIELD>` and the default is the
field's. A field missing from `DESCRIPTIONS` is described by its comment in settings.py (on its
line, else the line above); a test fails when a field has neither.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize

from scenefarm_operator.support.settings import Settings

DESCRIPTIONS = {
    "renderer_image": "image of the scene and combine Jobs",
    "renderer_pull_policy": "imagePullPolicy of those Jobs",
    "render_service_account": "service account the render Pods run as (no token mounted)",
    "artifact_store": "default artifact store: Volume or Appwrite (spec.output.store overrides)",
    "artifact_claim": "PersistentVolumeClaim (ReadWriteMany) of the Volume store",
    "default_quality": "render quality when spec.render.quality is unset: low, medium, high, fourk",
    "namespaces": "comma-separated namespaces to watch; empty: all namespaces",
    "max_running_scene_jobs": "cluster-wide cap on running scene Jobs",
    "kueue_queue_name": "Kueue LocalQueue label for the Jobs; empty: no Kueue",
    "openshift": "true: render Pods get no fixed uid/gid/fsGroup (OpenShift's SCC assigns them)",
    "log_level": "operator log level (DEBUG, INFO, WARNING, ERROR)",
    "reconcile_debounce_seconds": "coalesces bursts of child events into one reconcile pass",
    "resync_seconds": "a reconcile at least this often, even without events",
    "appwrite_endpoint": "Appwrite API endpoint (https://.../v1); empty: no Appwrite mirror",
    "appwrite_project": "Appwrite project id",
    "appwrite_api_key": "Appwrite server API key (from a Secret; never logged)",
    "appwrite_database": "Appwrite database of the videos and scenes tables",
    "appwrite_bucket": "Appwrite Storage bucket of the Appwrite artifact store",
    "appwrite_credentials_secret": "Secret (endpoint, project, apiKey, bucket) the render Pods read",
    "appwrite_on_delete": "Delete: rows and files go with the VideoRequest; Retain: they are kept",
    "gemini_api_key": "Gemini API key for planner.mode Gemini (never logged)",
    "gemini_model": "Gemini model when spec.planner.model is unset",
    "gemini_base_url": "Gemini endpoint override (a proxy, or a local double)",
    "finished_job_ttl_seconds": "finished Jobs are deleted this long after they end",
    "oom_memory_cap": "OOM-killed scenes retry with doubled memory up to this",
    "transient_retries": "automatic retries per scene of exit class 30 (storage, network)",
    "retry_base_seconds": "first transient retry after this; doubles each time",
    "metrics_port": "Prometheus metrics on this port; 0: no metrics server",
    "log_format": "text, or json (one JSON object per line)",
    "llm_prices": 'JSON {model: {"inputPerMillion": USD, "outputPerMillion": USD}} for cost estimates',
    "notify_targets": "JSON [{name, url, allowPrivate}]: webhook targets spec.notify.target may name",
    "notify_keys_dir": "directory with one signing-key file per webhook target",
    "notify_secret_refs": "true: allow spec.notify.secretRef (the operator reads that Secret)",
    "notify_max_attempts": "deliveries of one webhook event before it is given up",
    "notify_backoff_seconds": "first webhook retry after this; doubles each time, capped at 300 s",
    "notify_timeout_seconds": "timeout of one webhook delivery attempt",
    "intake_namespace": "web intake: VideoRequests from Appwrite request rows go here; empty: off",
    "intake_poll_seconds": "how often the web intake looks for new request rows",
    "intake_planner_modes": "planner modes a web request may ask for (Template, Gemini)",
    "intake_qualities": "render qualities a web request may ask for",
    "intake_max_active_per_user": "unfinished web requests one user may have",
    "intake_max_per_user_per_day": "web requests one user may make in any 24 hours",
    "intake_max_active_per_source": "unfinished web requests from one client address (its guests together)",
    "intake_max_per_source_per_day": "web requests from one client address in any 24 hours",
    "intake_max_active_total": "unfinished web requests of all users together",
    "intake_max_total_per_day": "web requests of all users together in any 24 hours",
    "intake_anonymous": "whether guests (Appwrite anonymous sessions) may submit web requests",
    "intake_max_topic_length": "longest topic of a web request (characters)",
    "intake_max_description_length": "longest description of a web request (characters)",
    "intake_max_scenes": "planner.maxScenes of a web request",
}
SECRET = ("appwrite_api_key", "gemini_api_key")


def source_comments() -> dict[str, str]:
    """Each field's comment in settings.py: the one on its line, else the one just above it."""
    comments: dict[str, str] = {}
    above, line_of_field, field = "", -1, ""
    source = inspect.getsource(Settings)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.start[1] == 4 and token.start[0] != line_of_field:
            field, line_of_field = token.string, token.start[0]
            if above:
                comments[field] = above
            above = ""
        elif token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if token.start[0] == line_of_field:
                comments[field] = text
            else:
                above = text
    return comments


def descriptions() -> dict[str, str]:
    return source_comments() | DESCRIPTIONS


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default as written in the environment, description) for every setting."""
    known = descriptions()
    rows = []
    for field in dataclasses.fields(Settings):
        default = field.default
        if isinstance(default, tuple):
            shown = ",".join(default)
        elif isinstance(default, bool):
            shown = str(default).lower()
        else:
            shown = str(default)
        rows.append((f"SCENEFARM_{field.name.upper()}", shown or '""', known.get(field.name, "")))
    return rows
