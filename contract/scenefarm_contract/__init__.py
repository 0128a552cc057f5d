"""The contract: what the operator and the renderer share, and nothing else.

What belongs here: the renderer's command line, exit classes, qualities, artifact keys and
termination message (`renderer`), the static code policy both sides enforce (`policy`), and the
Appwrite id, redaction and call helpers both sides use (`appwrite_sdk`). It imports no Manim,
PyAV or numpy, and nothing of the product, the renderer or the dev kit (import-linter checks).
"""
