"""The scenefarm renderer: what every scene Job and the combine Job run.

`contract` is shared with the operator and imports no Manim; everything that
renders, probes or combines video lives in its own module and is imported lazily
by the command line.
"""
