"""The scenefarm renderer: what every scene Job and the combine Job run.

What belongs here: the image's program on top of `scenefarm_contract` (the argv,
exit classes and termination message it shares with the operator, and the code
policy). Everything that renders, probes or combines video lives in its own module
and is imported lazily by the command line. Nothing here imports the operator.
"""
