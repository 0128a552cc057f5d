"""The shapes every planner shares: a plan of scenes, token usage, and the planner protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True)
class PlannedScene:
    name: str  # DNS label, unique within the plan
    class_name: str  # the Scene subclass to render
    code: str  # Manim source
    narration: str = ""


@dataclasses.dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    candidate_tokens: int = 0
    calls: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.candidate_tokens + other.candidate_tokens,
            self.calls + other.calls,
        )


@dataclasses.dataclass(frozen=True)
class Plan:
    scenes: tuple[PlannedScene, ...]
    usage: TokenUsage = TokenUsage()


@dataclasses.dataclass(frozen=True)
class Fix:
    code: str
    usage: TokenUsage = TokenUsage()


class Planner(Protocol):
    """One planning mode. `spec` is the VideoRequest's spec as a plain mapping."""

    async def plan(self, spec: Mapping[str, Any]) -> Plan: ...

    async def fix(self, spec: Mapping[str, Any], scene: PlannedScene, error_tail: str) -> Fix: ...
