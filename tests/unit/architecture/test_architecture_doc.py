"""docs/architecture.md names every module of the operator and of the CLI, and no folder grows big.

Convention (stated in the doc's "The pieces and where they live"): a module is named by its path
inside its package folder, in backticks, within the package's own subsection, a `###` heading
that names the package folder (`operator/scenefarm_operator/`, `cli/scenefarm_cli/`); so
`engine/manifests/jobs.py` is operator/scenefarm_operator/engine/manifests/jobs.py. `__init__.py`
files hold only docstrings and re-exports and are not listed. A path named there that does not
exist fails too, so a moved or deleted module cannot leave a stale name behind.

Size: a folder of a product package (operator, CLI, renderer, contract) holds at most
`MAX_MODULES` modules (`.py` files directly in it, `__init__.py` counted); a bigger one is
split into rooms. The dev kit is not a product and is not held to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "architecture.md"
SECTION = "## The pieces and where they live"

# Package folders whose every module the doc lists.
DOCUMENTED = {
    "scenefarm_operator": ROOT / "operator" / "scenefarm_operator",
    "scenefarm_cli": ROOT / "cli" / "scenefarm_cli",
}
# Package folders held to the size rule: every shipped package.
PRODUCTS = [
    *DOCUMENTED.values(),
    ROOT / "renderer_image" / "scenefarm_renderer",
    ROOT / "contract" / "scenefarm_contract",
]
MAX_MODULES = 15

_MODULE_PATH = re.compile(r"`([A-Za-z0-9_/]+\.py)`")


def modules(package: Path) -> list[str]:
    """Every module of a package by its path inside the package folder, `__init__.py` left out."""
    return sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    )


def subsection(package: Path) -> str:
    """The `###` subsection of "The pieces and where they live" whose heading names the package
    folder (e.g. `operator/scenefarm_operator/`), up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    folder = f"{package.parent.name}/{package.name}/"
    for part in re.split(r"\n(?=### )", section):
        heading = part.split("\n", 1)[0]
        if heading.startswith("### ") and folder in heading:
            return part
    raise AssertionError(f"{DOC.name}: no '### ...{folder}...' subsection under {SECTION!r}")


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_module_is_in_the_doc(name: str) -> None:
    package = DOCUMENTED[name]
    named = set(_MODULE_PATH.findall(subsection(package)))
    missing = [module for module in modules(package) if module not in named]
    assert not missing, (
        f"docs/architecture.md, {SECTION!r}, the {package.parent.name}/{package.name}/ table "
        f"does not name these {name} modules (by their path inside the package folder): {missing}"
    )


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_module_the_doc_names_exists(name: str) -> None:
    package = DOCUMENTED[name]
    named = set(_MODULE_PATH.findall(subsection(package)))
    stale = sorted(named - set(modules(package)))
    assert not stale, f"docs/architecture.md names {name} modules that do not exist: {stale}"


def test_no_product_folder_holds_more_than_15_modules() -> None:
    folders = {
        folder
        for package in PRODUCTS
        for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]
        if (folder / "__init__.py").exists()
    }
    too_big = {
        folder.relative_to(ROOT).as_posix(): count
        for folder in sorted(folders)
        if (count := sum(1 for _ in folder.glob("*.py"))) > MAX_MODULES
    }
    assert not too_big, f"folders with more than {MAX_MODULES} modules (__init__.py counted): {too_big}"


def test_the_rule_sees_the_packages() -> None:
    """Guard against a vacuous pass (a moved package, a renamed section)."""
    assert len(modules(DOCUMENTED["scenefarm_operator"])) > 40
    assert len(modules(DOCUMENTED["scenefarm_cli"])) > 10
    for package in PRODUCTS:
        assert (package / "__init__.py").exists(), package
