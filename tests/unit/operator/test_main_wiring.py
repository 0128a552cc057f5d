"""One start-up: only `scenefarm_operator.main` registers kopf handlers, and its one start-up
handler reads the settings once into one runtime object kept in kopf's memo."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import kopf
import pytest

REGISTERED = """
import importlib, sys
import kopf

def handler_ids():
    registry = kopf.get_default_registry()
    found = []
    for name in sorted(vars(registry)):
        for handler in getattr(getattr(registry, name), "_handlers", None) or []:
            found.append(handler.id)
    return sorted(set(found) - {"login_via_client"})  # kopf's own, always there

for module in sys.argv[1:]:
    importlib.import_module(module)
print(" ".join(handler_ids()))
"""

ROOMS = [
    "scenefarm_operator.runtime.handlers",
    "scenefarm_operator.runtime.reconcile",
    "scenefarm_operator.runtime.login",
    "scenefarm_operator.observe.handlers",
    "scenefarm_operator.web.handlers",
    "scenefarm_operator.web.intake_loop",
    "scenefarm_operator.web.codefiles",
]
HANDLERS = {
    "configure",
    "login",
    "close",
    "forget_rows",
    "clean_storage",
    "jobs_by_request",
    "pods_by_job",
    "cache_offers_by_namespace",
    "observe_request",
    "observe_pod",
    "job_changed",
    "pod_changed",
    "request_changed",
    "upload_code",
    "reconcile_request",
    "webIntake",  # the web intake's liveness probe
}


def registered_after_importing(*modules: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", REGISTERED, *modules], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


def test_importing_the_rooms_registers_no_handler() -> None:
    assert registered_after_importing(*ROOMS) == set()


def test_main_registers_every_handler() -> None:
    assert registered_after_importing("scenefarm_operator.main") == HANDLERS


def test_the_one_startup_reads_the_settings_once_into_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    from scenefarm_operator import main
    from scenefarm_operator.support.settings import Settings

    for name in ("SCENEFARM_APPWRITE_ENDPOINT", "SCENEFARM_METRICS_PORT", "SCENEFARM_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    reads: list[Settings] = []
    original = Settings.from_env.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Settings], env: Any = None) -> Settings:
        reads.append(original(cls, env))
        return reads[-1]

    monkeypatch.setattr(Settings, "from_env", classmethod(counted))
    memo = kopf.Memo()
    settings = kopf.OperatorSettings()

    async def start_and_stop() -> main.Runtime:
        await main.configure(settings=settings, memo=memo)
        made = main.runtime(memo)
        await main.close(memo=memo)
        return made

    made = asyncio.run(start_and_stop())
    assert len(reads) == 1
    assert made.settings is reads[0] is made.shared.settings is made.observability.settings
    assert made.mirror is None and made.shared.mirror is None and made.web is None
    assert settings.persistence.finalizer  # kopf's settings were tuned by the same start-up
    assert settings.watching.label_selectors
