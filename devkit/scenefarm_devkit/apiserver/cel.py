"""CEL rules (`x-kubernetes-validations`) evaluated with cel-python, compiled once per rule."""

from __future__ import annotations

import functools
import logging
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

# cel-python logs every evaluation error at ERROR level; a failing rule is an answer, not an incident.
logging.getLogger("celpy").setLevel(logging.CRITICAL)

_ENV = celpy.Environment()


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    return _ENV.program(_ENV.compile(rule))


def uses_old_self(rule: str) -> bool:
    return "oldSelf" in rule


def evaluate(rule: str, value: Any, old_value: Any = None, *, has_old: bool = False) -> Any:
    """The rule's result; raises ValueError when it does not compile or errors while evaluating."""
    try:
        program = _program(rule)
    except Exception as exc:  # celpy raises its own parse errors from several layers
        raise ValueError(f"compilation failed: {exc}") from exc
    activation = {"self": json_to_cel(value)}
    if has_old:
        activation["oldSelf"] = json_to_cel(old_value)
    try:
        result = program.evaluate(activation)
    except Exception as exc:
        raise ValueError(str(exc)) from exc
    if isinstance(result, CELEvalError):
        raise ValueError(str(result.args[0]) if result.args else "evaluation error")
    return result


def check(rule: str, value: Any, old_value: Any = None, *, has_old: bool = False) -> bool:
    return bool(evaluate(rule, value, old_value, has_old=has_old))


def message_from_expression(expression: str, value: Any, old_value: Any, *, has_old: bool) -> str | None:
    try:
        result = evaluate(expression, value, old_value, has_old=has_old)
    except ValueError:
        return None
    return str(result)
