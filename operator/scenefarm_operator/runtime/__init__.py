"""The runtime: where the operator acts.

`reconcile` is the loop of one request (snapshot, observe, decide, act, publish); `kube` is the
only place that talks to the Kubernetes API; `planner_calls` and `planning_step` perform the
planner calls a decision asks for; `admission` keeps the cluster-wide cap; `wakeups` wakes the
loop a child event concerns; `leader` keeps one replica active (a Lease); `login`, `diffbase` and
`handlers` are the kopf side of it.
"""
