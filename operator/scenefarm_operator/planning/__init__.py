"""Planning: turn a VideoRequest's spec into scenes with Manim code, and fix failing code.

`base` holds the shapes every planner shares; `explicit`, `template` and `gemini` are the
three modes and `factory` picks one; `validation` checks a plan against the renderer's code
policy before any Job starts; `text` and `prompts` serve the planners. Failures raise the
operator's one error hierarchy (`scenefarm_operator.support.errors`); what follows a failed scene
attempt is failure policy, not planning (`scenefarm_operator.engine.triage`).
"""
