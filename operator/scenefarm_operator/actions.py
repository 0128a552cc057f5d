"""`scenefarm retry|cancel|suspend|resume NAME`: user actions as spec changes (GitOps-friendly).

Each action is one merge patch of the VideoRequest's spec, so it is what a person could commit
to a GitOps repo instead; the operator does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError, ConfigError
from lightkube.types import PatchType
from rich.console import Console

from .kube import VideoRequest


def spec_patch(action: str, spec: dict[str, Any]) -> dict[str, Any]:
    if action == "retry":
        return {"retryGeneration": int(spec.get("retryGeneration") or 0) + 1}
    if action == "cancel":
        return {"cancel": True}
    return {"suspend": action == "suspend"}


def act(action: str, name: str, namespace: str | None, kubeconfig: Path | None, console: Console) -> int:
    try:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
        client = Client(config=config, namespace=namespace, field_manager="scenefarm-cli")
        vr = client.get(VideoRequest, name)
        patch = spec_patch(action, dict(vr.get("spec") or {}))
        client.patch(VideoRequest, name, {"spec": patch}, patch_type=PatchType.MERGE)
    except ConfigError as e:
        console.print(f"[red]no usable kubeconfig:[/] {e}")
        return 2
    except ApiError as e:
        console.print(f"[red]videorequest/{name}:[/] {e.status.message}")
        return 1
    console.print(f"videorequest/{name}: {action} requested ({patch})")
    return 0
