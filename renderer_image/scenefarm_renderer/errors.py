"""Renderer failures, one class per exit class of the contract.

    RendererError                 (never raised itself)
    ├── CodeRejected     -> 10    the code failed the policy or does not parse
    ├── CodeRaised       -> 11    the scene raised, looped past the deadline, or ran out of memory
    ├── EnvironmentProblem -> 20  missing LaTeX/fonts/libraries, a bad invocation, a broken input
    │   └── AppwriteSetupError    the Appwrite store is not configured or refuses its credentials
    └── TransientProblem -> 30    the artifact store could not be read or written
        ├── AppwriteStoreError    an Appwrite store call failed (appwrite_store.py)
        └── SpeechOutage          Gemini speech busy or unreachable (voice/speech.py; retried first)

The command line turns each into its exit code and the `errorTail` of the
termination message; anything else escaping is a renderer bug and is reported
as an environment problem (a broken image), never as the scene's fault.
"""

from __future__ import annotations

from scenefarm_contract.renderer import ExitClass


class RendererError(Exception):
    exit_class: ExitClass = ExitClass.ENVIRONMENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CodeRejected(RendererError):
    exit_class = ExitClass.CODE_REJECTED


class CodeRaised(RendererError):
    exit_class = ExitClass.CODE_RAISED


class EnvironmentProblem(RendererError):
    exit_class = ExitClass.ENVIRONMENT


class TransientProblem(RendererError):
    exit_class = ExitClass.TRANSIENT
