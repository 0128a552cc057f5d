"""Wiring: the Gemini double with the product's defaults handed in.

A double never imports the product; this module (above both) gives the double the Template
planner's plan as its default plan answer and the planner's policy-safe string literals.
"""

from __future__ import annotations

from typing import Any

from scenefarm_operator.planning.template import literal, plan_scenes

from .gemini_double import GeminiDouble, GeminiDoubleThread


def template_plan(request: dict[str, Any]) -> list[dict[str, str]]:
    """The Template planner's scenes for a plan call's request (topic, description, maxScenes)."""
    spec = {
        "topic": request.get("topic", ""),
        "description": request.get("description", ""),
        "planner": {"maxScenes": request.get("maxScenes", 6)},
    }
    return [
        {"name": s.name, "className": s.class_name, "narration": s.narration, "code": s.code}
        for s in plan_scenes(spec)
    ]


def gemini_double(**kwargs: Any) -> GeminiDouble:
    """An async `GeminiDouble` whose unscripted plans are the Template planner's."""
    return GeminiDouble(make_plan=template_plan, literal=literal, **kwargs)


def gemini_double_thread(**kwargs: Any) -> GeminiDoubleThread:
    """A `GeminiDoubleThread` whose unscripted plans are the Template planner's."""
    return GeminiDoubleThread(make_plan=template_plan, literal=literal, **kwargs)
