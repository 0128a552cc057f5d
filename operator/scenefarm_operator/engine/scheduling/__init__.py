"""Scheduling, pure: which scene starts first, and what a chunked render is predicted to save.

`estimates` reads each scene's expected length (its plan's frame count, else the code's static
estimate) and orders the scenes longest first; `costmodel` predicts a request's time-to-video on
its slots from the measured costs (a Pod's fixed cost, replay, plan, stitch, combine) and picks
the number of chunks that minimises it.
"""
