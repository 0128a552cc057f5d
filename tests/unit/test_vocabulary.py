"""Every one-place claim of the product, checked by reading its source (an AST scan of the
contract, the operator, the CLI and the renderer; the dev kit and the tests are not product):

- phase words ("Pending", "Succeeded", ...) are written out only in `scenefarm_contract/phases.py`;
  Kubernetes' words spelled alike (Pod phases, Job condition types) only as the named constants
  of `scenefarm_contract/k8s.py`;
- every set of phases that holds a finished phase (or equals a set phases.py defines) is defined
  in phases.py and imported from there;
- label, annotation and finalizer keys and the API's names come from `scenefarm_contract/keys.py`;
- the one exponential backoff formula is `scenefarm_contract.backoff.Backoff.delay`;
- the one timestamp parser is `scenefarm_contract.clock.parse_time` (no other fromisoformat or
  strptime);
- each package has one error root, drawn in its module's docstring, and every exception class
  descends from it; no two error classes share a name.

Each failure names file:line and what to use instead.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenefarm_contract import k8s, keys, phases

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "contract": ROOT / "contract" / "scenefarm_contract",
    "operator": ROOT / "operator" / "scenefarm_operator",
    "cli": ROOT / "cli" / "scenefarm_cli",
    "renderer": ROOT / "renderer_image" / "scenefarm_renderer",
}
CONTRACT = PACKAGES["contract"]
PHASES_PY, K8S_PY, KEYS_PY = CONTRACT / "phases.py", CONTRACT / "k8s.py", CONTRACT / "keys.py"
BACKOFF_PY, CLOCK_PY = CONTRACT / "backoff.py", CONTRACT / "clock.py"


def _constants(module: object) -> dict[str, object]:
    return {k: v for k, v in vars(module).items() if k.isupper() and not k.startswith("_")}


PHASE_CONSTANTS = _constants(phases)
PHASE_WORDS = {v for v in PHASE_CONSTANTS.values() if isinstance(v, str)}
PHASE_SETS = {k: frozenset(v) for k, v in PHASE_CONSTANTS.items() if isinstance(v, tuple | frozenset)}
K8S_WORDS = {v for v in _constants(k8s).values() if isinstance(v, str)}
KEY_VALUES = {v: k for k, v in _constants(keys).items() if isinstance(v, str)}

# Error roots: the package's base class and the module whose docstring draws the tree.
ERROR_ROOTS = {
    "operator": ("ScenefarmError", PACKAGES["operator"] / "support" / "errors.py"),
    "cli": ("CliError", PACKAGES["cli"] / "errors.py"),
    "renderer": ("RendererError", PACKAGES["renderer"] / "errors.py"),
}


def _sources() -> Iterator[tuple[str, Path]]:
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            yield package, path


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _where(path: Path, node: ast.AST) -> str:
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{getattr(node, 'lineno', 0)}"


def _fstring_parts(tree: ast.AST) -> set[int]:
    """The ids of the literal pieces of f-strings (not whole strings)."""
    return {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    parts = _fstring_parts(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            yield node


def _definitions(tree: ast.Module) -> set[int]:
    """The ids of string constants that are the whole value of a module-level assignment."""
    found = set()
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Constant):
            found.add(id(value))
    return found


def phase_word_violations() -> list[str]:
    found = []
    for _, path in _sources():
        if path == PHASES_PY:
            continue
        tree = _tree(path)
        allowed = _definitions(tree) if path == K8S_PY else set()
        for node in _strings(tree):
            if node.value in PHASE_WORDS | K8S_WORDS and id(node) not in allowed:
                found.append(
                    f"{_where(path, node)}: {node.value!r} written out; name it through "
                    "scenefarm_contract.phases (or scenefarm_contract.k8s for a Pod phase or Job condition)"
                )
    return found


def _phase_names(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """Names bound to the phases module, and names bound to one of its constants (-> constant)."""
    modules, names = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "scenefarm_contract":
            modules |= {a.asname or a.name for a in node.names if a.name == "phases"}
        elif isinstance(node, ast.ImportFrom) and node.module == "scenefarm_contract.phases":
            names |= {a.asname or a.name: a.name for a in node.names if a.name in PHASE_CONSTANTS}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == "scenefarm_contract.phases" and a.asname}
    return modules, names


def _phase_of(node: ast.expr, modules: set[str], names: dict[str, str]) -> object:
    """The phase word an element of a collection stands for, or None."""
    if isinstance(node, ast.Constant) and node.value in PHASE_WORDS:
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
        return PHASE_CONSTANTS.get(node.attr)
    if isinstance(node, ast.Name) and node.id in names:
        return PHASE_CONSTANTS[names[node.id]]
    return None


def phase_set_violations() -> list[str]:
    found = []
    for _, path in _sources():
        if path in (PHASES_PY, K8S_PY):
            continue
        tree = _tree(path)
        modules, names = _phase_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Tuple | ast.Set | ast.List) or len(node.elts) < 2:
                continue
            words = [_phase_of(e, modules, names) for e in node.elts]
            if None in words:
                continue
            same = [k for k, v in PHASE_SETS.items() if v == frozenset(words)]
            if same or {phases.SUCCEEDED, phases.FAILED} <= set(words):
                hint = f"phases.{same[0]}" if same else "a set defined in scenefarm_contract.phases"
                found.append(
                    f"{_where(path, node)}: a set of phases {sorted(words)} defined here; use {hint}"
                )
    return found


def _names(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def key_violations() -> list[str]:
    distinct = {v for v in KEY_VALUES if v != keys.MANAGER}  # "scenefarm" alone is also a program name
    found = []
    for _, path in _sources():
        if path == KEYS_PY:
            continue
        tree = _tree(path)
        for node in _strings(tree):
            if node.value in distinct or node.value.startswith(f"{keys.GROUP}/"):
                name = KEY_VALUES.get(node.value, "its constant")
                found.append(
                    f"{_where(path, node)}: {node.value!r} written out; use scenefarm_contract.keys.{name}"
                )
        for node in ast.walk(tree):
            # {MANAGED_BY: "scenefarm"} and f"{MANAGED_BY}=scenefarm": the value is keys.MANAGER.
            pairs: list[tuple[ast.expr | None, ast.expr]] = []
            if isinstance(node, ast.Dict):
                pairs = list(zip(node.keys, node.values, strict=True))
            elif isinstance(node, ast.JoinedStr):
                pairs = [
                    (a.value, b)
                    for a, b in zip(node.values, node.values[1:], strict=False)
                    if isinstance(a, ast.FormattedValue)
                ]
            for key, value in pairs:
                text = value.value if isinstance(value, ast.Constant) else None
                if (
                    key is not None
                    and _names(key) == "MANAGED_BY"
                    and text in (keys.MANAGER, f"={keys.MANAGER}")
                ):
                    found.append(f"{_where(path, value)}: the managed-by value written out; use keys.MANAGER")
    return found


def backoff_violations() -> list[str]:
    found = []
    for _, path in _sources():
        if path == BACKOFF_PY:
            continue
        for node in ast.walk(_tree(path)):
            exponent = None
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                exponent = node.right
            elif isinstance(node, ast.Call) and _names(node.func) == "pow" and len(node.args) >= 2:
                exponent = node.args[1]
            if exponent is not None and not isinstance(exponent, ast.Constant):
                found.append(
                    f"{_where(path, node)}: an exponential formula ({ast.unparse(node)}); "
                    "use scenefarm_contract.backoff.Backoff"
                )
    return found


def time_parser_violations() -> list[str]:
    found = []
    for _, path in _sources():
        if path == CLOCK_PY:
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and _names(node.func) in ("fromisoformat", "strptime"):
                found.append(
                    f"{_where(path, node)}: {ast.unparse(node.func)}() parses a timestamp; "
                    "use scenefarm_contract.clock.parse_time"
                )
    return found


def _classes(package: str) -> dict[str, tuple[Path, ast.ClassDef]]:
    found = {}
    for pkg, path in _sources():
        if pkg == package:
            found |= {n.name: (path, n) for n in ast.walk(_tree(path)) if isinstance(n, ast.ClassDef)}
    return found


def _ancestry(
    name: str, classes: dict[str, tuple[Path, ast.ClassDef]], seen: frozenset[str] = frozenset()
) -> set[str]:
    """The names `name` descends from: the product's classes by name, then builtin exceptions;
    a foreign base named ...Error or ...Exception (lightkube's ApiError) counts as an Exception."""
    if name in seen:
        return set()
    if name not in classes:
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return {c.__name__ for c in builtin.__mro__}
        return {name, "Exception", "BaseException"} if name.endswith(("Error", "Exception")) else {name}
    out = {name}
    for base in classes[name][1].bases:
        out |= _ancestry(_names(base), classes, seen | {name})
    return out


def error_violations() -> list[str]:
    found, owners = [], {}
    for package in PACKAGES:
        classes = _classes(package)
        root, module = ERROR_ROOTS.get(package, (None, None))
        drawn = (ast.get_docstring(_tree(module)) or "") if module else ""
        for name, (path, node) in classes.items():
            ancestry = _ancestry(name, classes)
            if "BaseException" not in ancestry:
                continue
            if name in owners:
                found.append(
                    f"{_where(path, node)}: a second error class named {name!r} (also {owners[name]})"
                )
            owners[name] = _where(path, node)
            if "Exception" not in ancestry:
                continue  # a BaseException control-flow signal (the renderer's ChunkComplete), not an error
            if root is None:
                found.append(f"{_where(path, node)}: {name} in a package with no error root")
            elif name != root and root not in ancestry:
                found.append(f"{_where(path, node)}: {name} does not descend from {root}")
            elif name not in drawn.split() and f"{name}(" not in drawn:
                found.append(f"{_where(path, node)}: {name} is not drawn in the docstring of {module.name}")
    return found


CHECKS = {
    "phase words": phase_word_violations,
    "phase sets": phase_set_violations,
    "keys": key_violations,
    "backoff formulas": backoff_violations,
    "timestamp parsers": time_parser_violations,
    "errors": error_violations,
}


@pytest.mark.parametrize("check", CHECKS)
def test_the_claim_holds(check: str) -> None:
    found = CHECKS[check]()
    assert not found, f"{len(found)} place(s) break the one-place rule for {check}:\n" + "\n".join(found)


def test_the_scan_sees_the_product() -> None:
    """A scan of nothing would pass: it must read every package, and know the words it looks for."""
    counts = {package: sum(1 for pkg, _ in _sources() if pkg == package) for package in PACKAGES}
    assert all(n >= 5 for n in counts.values()), counts
    assert {"Pending", "Succeeded", "Cancelled", "Stopped", "Healing"} <= PHASE_WORDS
    assert {"TERMINAL", "SCENE_TERMINAL", "ACTIVE", "FINISHED"} <= set(PHASE_SETS)


@pytest.mark.parametrize(
    ("source", "check"),
    [
        ('PHASE = "Succeeded"', phase_word_violations),
        ("DONE = (phases.SUCCEEDED, phases.FAILED, phases.CANCELLED)", phase_set_violations),
        ('LIVE = {"Pending", "Running"}', phase_set_violations),
        ('LABEL = "scenefarm.dev/anything"', key_violations),
        ('LABELS = {MANAGED_BY: "scenefarm"}', key_violations),
        ('SELECTOR = f"{keys.MANAGED_BY}=scenefarm"', key_violations),
        ("DELAY = base * 2 ** attempt", backoff_violations),
        ("AT = datetime.datetime.strptime(text, FORMAT)", time_parser_violations),
        ("AT = dt.datetime.fromisoformat(text)", time_parser_violations),
        ("class Refused(Exception):\n    pass", error_violations),
    ],
)
def test_a_regression_is_caught(
    source: str, check: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each check fails on a planted regression (a module added to the operator's tree)."""
    planted = tmp_path / "scenefarm_operator"
    planted.mkdir()
    (planted / "regression.py").write_text(
        "from scenefarm_contract import keys, phases\n\n" + source + "\n", encoding="utf-8"
    )
    monkeypatch.setitem(PACKAGES, "operator", planted)
    assert callable(check)
    found = check()
    assert any("regression.py" in line for line in found), found
