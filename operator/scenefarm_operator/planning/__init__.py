"""Planning: turn a VideoRequest's spec into scenes with Manim code, and fix failing code.

`base` holds the shapes every planner shares; `explicit`, `template` and `gemini`
are the three modes; `validation` checks a plan against the renderer's code policy
before any Job starts.
"""
