"""The user's command line: submit, apply, get/list, watch, logs, download, actions, completion.

One module per command, plus `connection` (kubeconfig, context, namespace -> a synchronous
lightkube client), `resources` (the VideoRequest resource), `output` (people and scripts: colour
only on a terminal, never wrapped paths, `-o json|yaml`) and `errors` (the one error root,
`CliError`: every mistake is a message and an exit code); `show/` reads and follows requests,
`fetch/` downloads their files. `main` wires them into `scenefarm` and `kubectl scenefarm`.

It depends on the contract only: never on the operator (its async runtime, prometheus) or the
dev kit, which plug their commands in through the `scenefarm.commands` entry point group.
"""
