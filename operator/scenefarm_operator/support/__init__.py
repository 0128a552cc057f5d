"""Support: what every room of the operator may use, and nothing else.

`settings` (the `SCENEFARM_*` variables, read once into one frozen object), `settings_doc`
(their documentation, from the same fields), and `errors` (the operator's one error root,
`ScenefarmError`). Imports nothing of the operator.
"""
