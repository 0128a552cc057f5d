"""No import cycles between modules, counting every import: module level, inside functions
(deferred) and under `if TYPE_CHECKING:`.

import-linter's contracts (pyproject.toml) keep the arrows between packages and rooms one-way;
this test keeps them one-way between any two modules, also inside a room. A cycle is a strongly
connected component of the module import graph with more than one module; the failure lists each
one with the imports that close it (file line and text), so the fix can start at a named line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

# Every package this repository ships or runs: the products, the contract and the dev kit.
PACKAGES = (
    "scenefarm_contract",
    "scenefarm_operator",
    "scenefarm_cli",
    "scenefarm_renderer",
    "scenefarm_devkit",
)


def build_graph(*packages: str) -> grimp.ImportGraph:
    # exclude_type_checking_imports=False is grimp's default, said here because the test relies on
    # it; grimp reads every import statement in a module, also those inside functions.
    return grimp.build_graph(*packages, exclude_type_checking_imports=False, cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan, iterative)."""
    edges: Mapping[str, list[str]] = {
        module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterable[str]]] = [(root, iter(edges[root]))]
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges.get(nxt, []))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One cycle: its modules and every import between two of them, with line and text."""
    members = set(component)
    lines = [f"cycle of {len(component)} modules: {', '.join(component)}"]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                text = detail["line_contents"].strip()
                lines.append(f"    {importer} -> {imported}  (l.{detail['line_number']}: {text})")
    return "\n".join(lines)


def test_no_import_cycle_between_modules() -> None:
    graph = build_graph(*PACKAGES)
    found = cycles(graph)
    assert not found, "import cycles (counting deferred and TYPE_CHECKING imports):\n" + "\n".join(
        describe(graph, component) for component in found
    )


def test_the_graph_counts_deferred_and_type_checking_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard is only as good as its graph: a cycle closed by a function-level import and one
    closed under TYPE_CHECKING are both found."""
    package = tmp_path / "cyclesprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclesprobe import b\n")
    (package / "b.py").write_text(
        textwrap.dedent(
            """
            def later():
                from cyclesprobe import a
            """
        )
    )
    (package / "c.py").write_text("from cyclesprobe import d\n")
    (package / "d.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from cyclesprobe import c
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = build_graph("cyclesprobe")
    assert cycles(graph) == [["cyclesprobe.a", "cyclesprobe.b"], ["cyclesprobe.c", "cyclesprobe.d"]]
    assert "l.3: from cyclesprobe import a" in describe(graph, ["cyclesprobe.a", "cyclesprobe.b"])
