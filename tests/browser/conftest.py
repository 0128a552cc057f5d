"""Browser tests: the built page in Debian's Chromium (driven by Playwright, no browser
download), against the whole web path on this machine (`scenefarm_devkit.web.WebStack`).

Screenshots of the key states are kept in `test-artifacts/web/` (or $SCENEFARM_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from scenefarm_devkit.web import WebStack

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SCENEFARM_CHROMIUM", "/usr/bin/chromium")
# As root in a container, and on a machine whose network is closed: no sandbox, no GPU, no
# background connections (Chromium would try Google's hosts at every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("SCENEFARM_TEST_ARTIFACTS", REPO / "test-artifacts")) / "web"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page built from web/ as a static host would get it (tsc, then vite build)."""
    web = REPO / "web"
    npm = shutil.which("npm")
    if npm is None or not (web / "node_modules" / ".bin" / "vite").exists():
        pytest.fail("web/node_modules is missing: run `make web-deps` (npm ci in web/)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [npm, "run", "build", "--", "--outDir", str(out)], cwd=web, check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[WebStack]:
    with WebStack(tmp_path_factory.mktemp("web"), dist=dist, max_scenes="2") as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make system-deps)")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
