"""kopf wiring of the web path (docs/appwrite.md): the web intake loop and the code uploads.

Importing this module registers its handlers (handlers.py does). Both need Appwrite; the
Appwrite SDK is imported only when it is configured. The intake runs only with
SCENEFARM_INTAKE_NAMESPACE set; scene code is uploaded for every request with an owner.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf

from . import naming
from .settings import Settings


@kopf.on.startup()
async def start_web_path(memo: kopf.Memo, **_: Any) -> None:
    settings = Settings.from_env()
    if not settings.appwrite_enabled:
        return
    from .appwrite import AppwriteConfig
    from .appwrite.codefiles import CodeFiles
    from .appwrite.intake import Limits
    from .appwrite.intake_loop import Intake

    config = AppwriteConfig.from_settings(settings)
    memo.code_files = CodeFiles(config)
    if settings.intake_namespace:
        limits = Limits.from_settings(settings)
        intake = Intake(config, settings.intake_namespace, limits, poll_seconds=settings.intake_poll_seconds)
        memo.intake = intake
        memo.intake_task = asyncio.create_task(intake.run(), name="web-intake")


@kopf.on.cleanup()
async def stop_web_path(memo: kopf.Memo, **_: Any) -> None:
    task = getattr(memo, "intake_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        memo.intake.close()
    code_files = getattr(memo, "code_files", None)
    if code_files is not None:
        await code_files.stop()


@kopf.on.event(naming.GROUP, naming.VERSION, naming.PLURAL)
async def upload_code(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every stored state of a request: upload code revisions not uploaded yet."""
    code_files = getattr(memo, "code_files", None)
    if code_files is not None:
        code_files.observe(body)
