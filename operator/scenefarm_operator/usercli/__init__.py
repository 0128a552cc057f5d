"""The user's command line: submit, apply, get/list, watch, logs, download, completion.

One module per command, plus `connection` (kubeconfig, context, namespace -> API clients),
`output` (people and scripts: colour only on a terminal, never wrapped paths, `-o json|yaml`)
and `errors` (every mistake is a message and an exit code). `parser` wires them into
`scenefarm` and `kubectl scenefarm`. Nothing here imports the dev kit.
"""
