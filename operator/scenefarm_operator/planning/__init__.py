"""Planning: turn a VideoRequest's spec into scenes with Manim code, and fix failing code.

`base` holds the shapes every planner shares; `explicit`, `template` and `gemini` are the
three modes and `factory` picks one; `validation` checks a plan against the renderer's code
policy before any Job starts; `triage` decides what follows a failed scene attempt; `errors`
is the hierarchy every planning failure belongs to; `text` and `prompts` serve the planners.
"""
