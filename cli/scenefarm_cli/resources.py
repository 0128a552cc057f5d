"""The VideoRequest resource, as the CLI's synchronous client needs it.

`VideoRequest` is the lightkube resource for the CLI's synchronous client, made from the
contract's names. lightkube keeps one class per group/version/kind, so the operator's own
definition (runtime.kube), made from the same names, is this very class in a process that
imports both.

The names of a request's children come from the contract (`scenefarm_contract.names`), the
same rule the operator makes them by.
"""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource

from scenefarm_contract.keys import GROUP, KIND, PLURAL, VERSION

VideoRequest = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
