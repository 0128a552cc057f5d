"""Static checks on scene code, before anything runs it.

Pure and Manim-free: the operator imports it to validate plans (explicit scenes
and LLM output) before it creates a Job, and the renderer runs it again before
it imports the code.  `check_code` returns every violation it finds, as
sentences a person or an LLM can act on; an empty list means the code may run.

The policy is a filter, not a sandbox.  It removes the easy and the known ways
from scene code to the operating system (imports, `eval`, reflection, Manim's
own helpers that run commands); the boundary is the renderer process itself:
non-root, read-only root filesystem, scrubbed environment, resource limits.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

MAX_SOURCE_BYTES = 64 * 1024

# What a scene author really needs: Manim, numeric helpers, and the parts of the
# standard library that compute but touch nothing outside the process.  Modules
# with reflection (inspect, operator.attrgetter, string.Formatter.get_field),
# I/O (io, pathlib, pickle) or process control (os, sys, subprocess) are out.
ALLOWED_MODULES = frozenset(
    {
        "manim",
        "math",
        "cmath",
        "numpy",
        "random",
        "itertools",
        "functools",
        "colorsys",
        "typing",
        "dataclasses",
        "enum",
        "collections",
        "fractions",
        "decimal",
        "statistics",
        "bisect",
        "heapq",
        "copy",
        "abc",
        "textwrap",
        "__future__",
    }
)

# Submodules allowed besides the top level ones.  `manim.utils` as a whole is not
# allowed: `manim.utils.commands.capture` and `manim.utils.tex_file_writing`
# run programs.
ALLOWED_SUBMODULES = frozenset(
    {
        "manim.utils.rate_functions",
        "manim.utils.color",
        "manim.utils.space_ops",
        "manim.utils.bezier",
        "manim.utils.paths",
        "numpy.linalg",
        "numpy.random",
        "collections.abc",
    }
)

# Only the top level of Manim is meant to be star-imported; a star import of any
# other module would bring in names the checks below cannot see.
STAR_IMPORTABLE = frozenset({"manim", "math"})

DANGEROUS_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "help",  # pydoc may start a pager process
        "exit",
        "quit",
        "license",  # reads files
        "memoryview",
    }
)

# Names of modules that reach the operating system.  Forbidden as names, as
# attributes anywhere (`np.os`, `utils.tex_file_writing.subprocess`) and as
# imported names, because `from manim import *` already binds modules that
# import them.
SYSTEM_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "ctypes",
        "ctypeslib",
        "cffi",
        "importlib",
        "builtins",
        "shutil",
        "socket",
        "pathlib",
        "io",
        "pickle",
        "marshal",
        "shelve",
        "inspect",
        "gc",
        "code",
        "codeop",
        "runpy",
        "signal",
        "threading",
        "multiprocessing",
        "concurrent",
        "asyncio",
        "tempfile",
        "glob",
        "pty",
        "urllib",
        "http",
        "requests",
        "f2py",  # numpy.f2py runs compilers
        "distutils",
        "testing",  # numpy.testing imports subprocess
    }
)

# Manim (and numpy, typing) names that run programs, touch files or change the
# render configuration.  Forbidden as names, attributes, keywords and imports.
# `utils` is the module through which `from manim import *` reaches
# `tex_file_writing.subprocess`; the other modules `from manim import *` binds
# (`mobject`, `scene`, `camera`...) lead to the same places, so they are
# forbidden as bare names (attributes like `self.camera` stay allowed).
DANGEROUS_NAMES = frozenset(
    {
        "utils",
        "config",
        "tempconfig",
        "CONTEXT_SETTINGS",
        "tex_file_writing",
        "tex_compiler",
        "TexTemplate",
        "TexTemplateFromFile",
        "file_writer",
        "capture",
        "open_file",
        "open_media_file",
        "guarantee_existence",
        "guarantee_empty_existence",
        "modify_atime",
        "ensure_executable",
        "get_video_metadata",
        "get_dir_layout",
        "seek_full_path_from_defaults",
        "register_font",
        "get_plugins",
        "list_plugins",
        "plugins",
        "get_type_hints",  # evaluates string annotations with eval
        "ForwardRef",
        "make_dataclass",
        "load",  # numpy.load may unpickle
        "loadtxt",
        "fromregex",  # numpy: reads any file
        "DataSource",  # numpy: opens any file or URL
        "genfromtxt",
        "fromfile",
        "tofile",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "memmap",
        "system",
        "popen",
        "spawn",
        "fork",
    }
)

MANIM_INTERNAL_MODULES = frozenset(
    {"animation", "camera", "core", "mobject", "opengl", "renderer", "scene", "manager", "typing_ext"}
)

FORBIDDEN_ATTRIBUTES = SYSTEM_MODULES | DANGEROUS_NAMES
FORBIDDEN_NAMES = DANGEROUS_BUILTINS | SYSTEM_MODULES | DANGEROUS_NAMES | MANIM_INTERNAL_MODULES

SCENE_BASES = frozenset(
    {
        "Scene",
        "MovingCameraScene",
        "ThreeDScene",
        "SpecialThreeDScene",
        "ZoomedScene",
        "VectorScene",
        "LinearTransformationScene",
    }
)


def check_code(source: str, class_name: str) -> list[str]:
    """Every policy violation of `source`, as sentences; empty when it may be rendered."""
    size = len(source.encode("utf-8", errors="replace"))
    if size > MAX_SOURCE_BYTES:
        return [f"the code is {size} bytes; the limit is {MAX_SOURCE_BYTES} bytes"]
    try:
        tree = ast.parse(source, filename="scene.py")
    except SyntaxError as exc:
        return [f"syntax error at line {exc.lineno}: {exc.msg}"]
    except (RecursionError, MemoryError, ValueError) as exc:  # too deep for the parser, NUL bytes
        return [f"the code cannot be parsed ({type(exc).__name__}): nest it less deeply"]
    violations = list(_scan(tree))
    violations += _check_scene_class(tree, class_name)
    return list(dict.fromkeys(violations))  # ordered, without repeats


# What an annotation may hold: names of types, their attributes and parameters, `X | Y`, and
# None/...; no strings and no other expressions: `typing.get_type_hints` (which
# `functools.singledispatch` calls) evaluates a string annotation as code.
TYPE_EXPRESSION_NODES = (ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Load, ast.BitOr)


def _scan(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        for annotation in _annotations(node):
            yield from _check_annotation(annotation, line)
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _check_import(alias.name, line)
                yield from _check_bound_name(alias.asname, line)
        elif isinstance(node, ast.ImportFrom):
            yield from _check_import_from(node, line)
        elif isinstance(node, ast.Name):
            yield from _check_name(node.id, line)
        elif isinstance(node, ast.Attribute):
            yield from _check_attribute(node.attr, line)
        elif isinstance(node, ast.keyword) and node.arg in DANGEROUS_NAMES:
            yield f"line {line}: keyword argument '{node.arg}' is not allowed"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield from _check_string(node.value, line)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
            node.name in FORBIDDEN_NAMES
        ):
            yield f"line {line}: the name '{node.name}' is reserved; choose another"


def _annotations(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.arg | ast.AnnAssign):
        return [node.annotation] if node.annotation is not None else []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.returns] if node.returns is not None else []
    return []


def _check_annotation(annotation: ast.expr, line: object) -> Iterator[str]:
    parts = list(ast.walk(annotation))
    if all(_names_a_type(part) for part in parts):
        return
    strings = any(isinstance(p, ast.JoinedStr) or isinstance(getattr(p, "value", None), str) for p in parts)
    yield (
        f"line {line}: annotations may only name types ({'a string' if strings else 'an expression'} "
        "found); Python evaluates annotations as code, so write the type itself"
    )


def _names_a_type(part: ast.AST) -> bool:
    if isinstance(part, ast.Constant):
        return part.value is None or part.value is Ellipsis
    if isinstance(part, ast.BinOp):
        return isinstance(part.op, ast.BitOr)
    return isinstance(part, TYPE_EXPRESSION_NODES)


def _check_name(name: str, line: object) -> Iterator[str]:
    if name in FORBIDDEN_NAMES:
        yield f"line {line}: the name '{name}' is not allowed in scene code"
    elif name.startswith("__") and name != "__name__":  # `if __name__ == "__main__":` is harmless
        yield f"line {line}: dunder names like '{name}' are not allowed"


def _check_attribute(attr: str, line: object) -> Iterator[str]:
    if attr.startswith("_"):
        yield f"line {line}: attribute '.{attr}' starts with an underscore; not allowed"
    elif attr in FORBIDDEN_ATTRIBUTES:
        yield f"line {line}: attribute '.{attr}' reaches outside the scene; not allowed"


def _check_import(module: str, line: object) -> Iterator[str]:
    if module in ALLOWED_MODULES or module in ALLOWED_SUBMODULES or module.startswith("manim.utils.color."):
        return
    yield f"line {line}: import of '{module}' is not allowed (allowed: {', '.join(sorted(ALLOWED_MODULES))})"


def _check_import_from(node: ast.ImportFrom, line: object) -> Iterator[str]:
    if node.level:
        yield f"line {line}: relative imports are not allowed"
        return
    module = node.module or ""
    yield from _check_import(module, line)
    for alias in node.names:
        if alias.name == "*":
            if module not in STAR_IMPORTABLE:
                yield f"line {line}: 'from {module} import *' is not allowed; import names explicitly"
            continue
        if alias.name in FORBIDDEN_NAMES or alias.name.startswith("_"):
            yield f"line {line}: importing '{alias.name}' from '{module}' is not allowed"
        yield from _check_bound_name(alias.asname, line)


def _check_bound_name(asname: str | None, line: object) -> Iterator[str]:
    if asname is not None and (asname in FORBIDDEN_NAMES or asname.startswith("__")):
        yield f"line {line}: the alias '{asname}' is not allowed"


def _check_string(value: str, line: object) -> Iterator[str]:
    # Strings are how names travel to reflection (`**{"tex_compiler": ...}`,
    # `"{0.__globals__}".format(f)`); text shown on screen rarely needs these.
    if "__" in value and value != "__main__":
        yield f"line {line}: strings containing '__' are not allowed"
    elif value in FORBIDDEN_ATTRIBUTES:
        yield f"line {line}: the string '{value}' names something scene code may not use"


def _check_scene_class(tree: ast.Module, class_name: str) -> list[str]:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    if not classes:
        return [f"no top-level class named '{class_name}' is defined"]
    if len(classes) > 1:
        return [f"the class '{class_name}' is defined {len(classes)} times"]
    bases = {_base_name(b) for b in classes[0].bases}
    if not bases & (SCENE_BASES | _local_scene_classes(tree)):
        known = ", ".join(sorted(SCENE_BASES))
        return [f"class '{class_name}' must subclass a Manim scene ({known})"]
    return []


def _local_scene_classes(tree: ast.Module) -> set[str]:
    """Top-level classes that derive, directly or through each other, from a Manim scene."""
    scenes: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in tree.body:
            if (
                isinstance(node, ast.ClassDef)
                and node.name not in scenes
                and {_base_name(b) for b in node.bases} & (SCENE_BASES | scenes)
            ):
                scenes.add(node.name)
                changed = True
    return scenes


def _base_name(base: ast.expr) -> str:
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):  # manim.Scene
        return base.attr
    return ""
