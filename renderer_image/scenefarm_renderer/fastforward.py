"""Which replayed plays may skip their frames: the exact fast-forward of `replaying`.

A chunk replays the plays before its window only for the state they leave. When nothing can
observe a play's intermediate frames, that state is a function of the play's progress alone:
every animation it runs sets its mobjects from snapshots taken when it began (its starting
mobject, its target) and the progress `alpha`, so the frames before the window can be skipped
and the first frame that counts (or the play's end, `Animation.finish`) computed directly.
That holds only for what is known to work that way; anything else steps every frame as a full
render does. A play is stepped (`why_step` returns the reason) when:

- the camera is a 3D camera (its rotation follows trackers frame by frame);
- the scene has updaters, or any mobject in the scene or in the play has updaters (`always_redraw`,
  `TracedPath`, `dt`-based or random updaters, a `ValueTracker` read by an updater);
- it is a wait with a stop condition (a predicate evaluated every frame);
- the scene overrides a method Manim calls every frame (`update_to_time`, ...);
- an animation is not one of `PURE` (exact types, so a subclass with its own `interpolate` steps),
  or a group that holds one; a `Succession` whose play continues into the window (its progress
  is not a function of the current time alone when its rate function goes back);
- an animation holds a function not defined by Manim or numpy (a rate function of the scene's
  own, whose calls may count or draw random numbers);
- a mobject involved is of a class of the scene's own that defines methods besides `__init__`;
- two animations of one play (other than the steps of a `Succession`) move shared mobjects.

Decided per play (Manim's "animation N": every animation of one `self.play(...)` call).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
from manim.animation import creation, fading, growing, indication, rotation, transform
from manim.animation.animation import Add, Animation, Wait
from manim.animation.composition import AnimationGroup, LaggedStart, LaggedStartMap, Succession
from manim.scene.scene import Scene

# Animations whose state after `interpolate(alpha)` depends only on alpha and what `begin` took.
PURE: frozenset[type[Animation]] = frozenset(
    {
        Add,
        Wait,
        transform.Transform,
        transform.ReplacementTransform,
        transform.TransformFromCopy,
        transform.ClockwiseTransform,
        transform.CounterclockwiseTransform,
        transform.MoveToTarget,
        transform._MethodAnimation,
        transform.ApplyMethod,
        transform.ApplyFunction,
        transform.ApplyMatrix,
        transform.ApplyPointwiseFunction,
        transform.ApplyComplexFunction,
        transform.FadeToColor,
        transform.ScaleInPlace,
        transform.ShrinkToCenter,
        transform.Restore,
        transform.CyclicReplace,
        transform.Swap,
        fading.FadeIn,
        fading.FadeOut,
        growing.GrowFromPoint,
        growing.GrowFromCenter,
        growing.GrowFromEdge,
        growing.GrowArrow,
        growing.SpinInFromNothing,
        creation.Create,
        creation.Uncreate,
        creation.DrawBorderThenFill,
        creation.Write,
        creation.Unwrite,
        creation.ShowIncreasingSubsets,
        creation.ShowSubmobjectsOneByOne,
        indication.Indicate,
        indication.FocusOn,
        indication.ShowPassingFlash,
        rotation.Rotate,
        rotation.Rotating,
    }
)
GROUPS: frozenset[type[Animation]] = frozenset({AnimationGroup, LaggedStart, LaggedStartMap})
# Called by Manim on every frame of a play; the scene must not replace them.
PER_FRAME = ("update_to_time", "update_mobjects", "update_meshes", "update_self", "play_internal")
# What a class of the scene's own may define and still be trusted: data and its constructor.
PLAIN = frozenset(
    {"__init__", "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__"}
)
TRUSTED_MODULES = ("manim.", "numpy", "math", "builtins", "_operator", "operator")
MAX_DEPTH = 8  # closures within closures looked into


def why_step(scene: Any, camera: Any, *, whole_play: bool) -> str | None:
    """Why the current play must step every replayed frame; None when it may skip them.

    `whole_play`: the play ends before the window (only its end state matters)."""
    return next((reason for reason in _reasons(scene, camera, whole_play=whole_play) if reason), None)


def _reasons(scene: Any, camera: Any, *, whole_play: bool) -> Iterator[str | None]:
    """Every reason to step, cheapest first (None where a check found none)."""
    yield "a 3D camera" if hasattr(camera, "reset_rotation_matrix") else None
    yield "the scene has updaters" if scene.updaters else None
    yield "a wait with a stop condition" if getattr(scene, "stop_condition", None) is not None else None
    yield "the scene has meshes" if getattr(scene, "meshes", None) else None
    for name in PER_FRAME:
        if getattr(type(scene), name, None) is not getattr(Scene, name):
            yield f"the scene defines its own {name}"
    leaves: list[Animation] = []
    for animation in scene.animations or ():
        yield _collect(animation, leaves, whole_play=whole_play)
    yield _disjoint(scene.animations or ())
    involved: list[Any] = list(scene.get_mobject_family_members())
    for leaf in leaves:
        involved += [m for mobject in _mobjects_of(leaf) if mobject is not None for m in mobject.get_family()]
    yield _mobjects(involved)


def _mobjects_of(animation: Animation) -> list[Any]:
    """The mobjects an animation reads and writes; a step of a `Succession` may not have begun."""
    try:
        return list(animation.get_all_mobjects())
    except AttributeError:  # not begun: no starting mobject or target copy yet
        return [animation.mobject, getattr(animation, "target_mobject", None)]


def _collect(animation: Animation, leaves: list[Animation], *, whole_play: bool) -> str | None:
    """Why `animation` (a group: any animation in it) must step; its pure leaves into `leaves`."""
    kind = type(animation)
    reason = _functions(animation)
    if reason:
        return f"{kind.__name__}: {reason}"
    if kind in GROUPS or (kind is Succession and whole_play):
        children = animation.animations  # type: ignore[attr-defined]
        reasons = (_collect(child, leaves, whole_play=whole_play) for child in children)
        reason = next((r for r in reasons if r), None)
        return reason or (None if kind is Succession else _disjoint(children))
    if kind is Succession:
        reason = "a Succession that continues into the chunk (its steps begin as its time goes by)"
    elif kind not in PURE:
        reason = f"{kind.__name__} is not known to depend on its progress alone"
    elif isinstance(animation, Wait) and animation.stop_condition is not None:
        reason = "a wait with a stop condition"
    else:
        leaves.append(animation)
    return reason


def _disjoint(animations: Any) -> str | None:
    """Animations that run side by side must move mobjects of their own."""
    seen: set[int] = set()
    for animation in animations:
        mobject = getattr(animation, "mobject", None)
        if mobject is None or isinstance(animation, Wait | Add):
            continue
        family = {id(m) for m in mobject.get_family()}
        if family & seen:
            return f"{type(animation).__name__} moves a mobject another animation of the play moves"
        seen |= family
    return None


def _functions(animation: Animation) -> str | None:
    """A function the animation holds (rate, path, ...) that Manim or numpy did not define."""
    for key, value in vars(animation).items():
        if callable(value) and not isinstance(value, type) and not _trusted(value):
            return f"its {key.lstrip('_')} is the scene's own function"
    return None


def _trusted(function: Any, depth: int = 0) -> bool:
    """Defined by Manim, numpy or Python (closures included, looked into), so calling it only at
    the frames that count changes nothing else."""
    if isinstance(function, types.MethodType):
        function = function.__func__
    if isinstance(function, functools.partial):
        inner = [function.func, *function.args, *function.keywords.values()]
        return depth < MAX_DEPTH and all(_trusted(f, depth + 1) for f in inner if callable(f))
    if isinstance(function, np.ufunc | types.BuiltinFunctionType):
        return True
    if not isinstance(function, types.FunctionType) or depth >= MAX_DEPTH:
        return False
    cells = function.__closure__ or ()
    return str(function.__module__).startswith(TRUSTED_MODULES) and all(
        _trusted(c.cell_contents, depth + 1) for c in cells if _callable_cell(c)
    )


def _callable_cell(cell: Any) -> bool:
    try:
        value = cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return callable(value) and not isinstance(value, type)


def _mobjects(mobjects: list[Any]) -> str | None:
    for mobject in mobjects:
        kind: type = mobject.__class__
        if mobject.updaters:
            return f"{kind.__name__} has updaters"
        own = _own_methods(kind)
        if own:
            return f"{kind.__name__} defines its own {own}"
    return None


@functools.lru_cache(maxsize=256)
def _own_methods(kind: type) -> str | None:
    """The first method a class outside Manim adds to a mobject (None: constructor and data only)."""
    for cls in kind.__mro__:
        if str(cls.__module__).startswith(TRUSTED_MODULES):
            continue
        for name, value in vars(cls).items():
            if name in PLAIN:
                continue
            if callable(value) or isinstance(value, property | staticmethod | classmethod):
                return name
    return None
