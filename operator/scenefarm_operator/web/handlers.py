"""The web path's handler bodies (docs/appwrite.md): the Appwrite mirror, the web intake loop and
the code uploads.

The intake starts and stops through one pair, `start_intake`/`stop_intake`, so whoever decides
where it runs (one active replica) calls just those; `intake_health` feeds the liveness probe.

Plain functions; `scenefarm_operator.main` registers the handlers and hands in what they need.
All of it needs Appwrite; the Appwrite SDK is imported only when it is configured. The intake runs
only with SCENEFARM_INTAKE_NAMESPACE set; scene code is uploaded for every request with an owner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from scenefarm_operator.support.settings import Settings

if TYPE_CHECKING:
    from scenefarm_operator.web.codefiles import CodeFiles
    from scenefarm_operator.web.intake_loop import IntakeRunner
    from scenefarm_operator.web.mirror import AppwriteMirror


@dataclasses.dataclass(frozen=True)
class WebPath:
    """The web path of a running operator: code uploads, and the intake loop when configured."""

    code_files: CodeFiles
    intake: IntakeRunner | None = None


def make_mirror(settings: Settings) -> AppwriteMirror | None:
    """The Appwrite mirror, not started yet (`AppwriteMirror.start`); None without Appwrite."""
    if not settings.appwrite_enabled:
        return None
    from scenefarm_operator.web import AppwriteConfig, AppwriteMirror

    return AppwriteMirror(AppwriteConfig.from_settings(settings))


def make_web_path(settings: Settings) -> WebPath | None:
    """Code uploads and (with SCENEFARM_INTAKE_NAMESPACE) the intake, not started; None without
    Appwrite."""
    if not settings.appwrite_enabled:
        return None
    from scenefarm_operator.web import AppwriteConfig
    from scenefarm_operator.web.codefiles import CodeFiles
    from scenefarm_operator.web.intake import Limits
    from scenefarm_operator.web.intake_loop import Intake, IntakeRunner

    config = AppwriteConfig.from_settings(settings)
    code_files = CodeFiles(config)
    if not settings.intake_namespace:
        return WebPath(code_files)
    limits = Limits.from_settings(settings)
    intake = Intake(config, settings.intake_namespace, limits, poll_seconds=settings.intake_poll_seconds)
    return WebPath(code_files, IntakeRunner(intake))


def start_intake(web: WebPath | None) -> None:
    """Start the intake loop (supervised, in the running event loop); the one start of the pair."""
    if web is not None and web.intake is not None:
        web.intake.start()


async def stop_intake(web: WebPath | None) -> None:
    """Stop the intake loop; `start_intake` may start it again (the one stop of the pair)."""
    if web is not None and web.intake is not None:
        await web.intake.stop()


def start_web_path(settings: Settings) -> WebPath | None:
    """`make_web_path`, with the intake started."""
    web = make_web_path(settings)
    start_intake(web)
    return web


async def stop_web_path(web: WebPath) -> None:
    await stop_intake(web)
    if web.intake is not None:
        web.intake.close()
    await web.code_files.stop()


def intake_health(web: WebPath | None) -> dict[str, Any] | None:
    """The intake's health for the liveness probe; None when there is no intake."""
    return web.intake.health() if web is not None and web.intake is not None else None


def stats_of(mirror: AppwriteMirror | None, web: WebPath | None) -> Callable[[], Mapping[str, float] | None]:
    """The metrics endpoint's view of the web path: the mirror's stats and the intake's (`intake_*`)."""

    def stats() -> Mapping[str, float] | None:
        found: dict[str, float] = dict(mirror.stats()) if mirror is not None else {}
        if web is not None and web.intake is not None:
            found |= {f"intake_{key}": value for key, value in web.intake.stats().items()}
        return found or None

    return stats


def upload_code(web: WebPath, body: Mapping[str, Any]) -> None:
    """Every stored state of a request: upload code revisions not uploaded yet."""
    web.code_files.observe(body)
