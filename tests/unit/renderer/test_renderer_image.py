"""The renderer image definition: what can be checked without Docker."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

IMAGE = Path(__file__).parents[3] / "renderer_image"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#")))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in joined.splitlines()
        if line.strip()
    ]


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for op, args in instructions(text):
        if op == "FROM":
            current = args.split(" AS ")[-1].strip() if " AS " in args else args
            result[current] = []
        elif current:
            result[current].append((op, args))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (IMAGE / "Dockerfile").read_text()


def test_the_base_image_is_pinned_by_full_version_tag(dockerfile: str) -> None:
    arg = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)

    assert arg and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", arg.group(1))
    froms = [args for op, args in instructions(dockerfile) if op == "FROM"]
    assert all(f.startswith(("${PYTHON_IMAGE} AS", "runtime AS")) for f in froms), froms


def test_the_runtime_runs_as_a_numeric_non_root_user_with_the_renderer_entrypoint(dockerfile: str) -> None:
    for stage in ("runtime", "runtime-latex"):
        ops = stages(dockerfile)[stage]
        users = [args for op, args in ops if op == "USER"]
        assert users[-1] == "10001:10001"
    runtime = stages(dockerfile)["runtime"]
    entrypoint = [args for op, args in runtime if op == "ENTRYPOINT"]
    assert [json.loads(e) for e in entrypoint] == [["python", "-m", "scenefarm_renderer"]]


def test_the_runtime_writes_only_to_scratch(dockerfile: str) -> None:
    env = " ".join(args for op, args in stages(dockerfile)["runtime"] if op == "ENV")

    for var in ("HOME", "TMPDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        assert re.search(rf"\b{var}=/scratch\b", env), var


def test_build_tools_stay_in_the_builder_and_latex_is_opt_in(dockerfile: str) -> None:
    parts = stages(dockerfile)
    builder = " ".join(args for _, args in parts["builder"])
    runtime = " ".join(args for _, args in parts["runtime"])
    latex = " ".join(args for _, args in parts["runtime-latex"])

    assert all(p in builder for p in ("libcairo2-dev", "libpango1.0-dev", "pkg-config", "build-essential"))
    assert "-dev" not in runtime.replace("--no-install-recommends", "")
    for lib in (
        "libcairo2",
        "libpango-1.0-0",
        "libpangocairo-1.0-0",
        "libpangoft2-1.0-0",
        "fonts-",
        "espeak-ng",
    ):
        assert lib in runtime
    assert 'if [ "$WITH_LATEX" = "1" ]' in runtime
    assert all(p in latex for p in ("texlive-latex-base", "texlive-latex-extra", "dvisvgm"))
    assert not re.search(r"(curl|wget)[^|&;]*\|\s*(ba)?sh", dockerfile)


def test_image_requirements_match_the_project_pins_and_the_tested_environment() -> None:
    pins = dict(
        line.split("==") for line in (IMAGE / "requirements.txt").read_text().splitlines() if "==" in line
    )
    project_table = tomllib.loads((IMAGE.parent / "pyproject.toml").read_text())["project"]
    project = project_table["dependencies"] + project_table["optional-dependencies"]["renderer"]

    assert set(pins) == {"manim", "av", "numpy", "appwrite", "google-genai"}  # google-genai: Gemini narration
    for name, version in pins.items():
        assert f"{name}=={version}" in project
        assert metadata.version(name) == version
    renderer = tomllib.loads((IMAGE / "pyproject-renderer.toml").read_text())["project"]["dependencies"]
    assert sorted(renderer) == sorted(f"{n}=={v}" for n, v in pins.items())


def test_the_image_packages_the_renderer_with_the_contract_it_imports() -> None:
    setup = tomllib.loads((IMAGE / "pyproject-renderer.toml").read_text())["tool"]["setuptools"]
    copies = [args for op, args in instructions((IMAGE / "Dockerfile").read_text()) if op == "COPY"]

    assert sorted(setup["packages"]) == ["scenefarm_contract", "scenefarm_renderer"]
    for package in setup["packages"]:
        assert any(args.endswith(f"/src/{package}") for args in copies), package


def test_the_runtime_ships_bytecode_for_the_standard_library(dockerfile: str) -> None:
    # The base image deletes every .pyc and the root filesystem is read-only at run time: without
    # compiled bytecode each Pod would compile the stdlib modules it imports, every time.
    runs = [args for op, args in stages(dockerfile)["runtime"] if op == "RUN"]
    install = next(i for i, args in enumerate(runs) if "pip install" in args)
    compiled = [i for i, args in enumerate(runs) if "python -m compileall" in args and "stdlib" in args]

    assert compiled and compiled[0] > install
    assert "--no-compile" not in runs[install]  # pip compiles what it installs
