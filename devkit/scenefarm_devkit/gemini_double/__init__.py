"""A local Gemini API double for tests and the demo: the google-genai SDK talks to it unchanged.

It answers `POST /{v1beta|v1}/models/{model}:generateContent` with the JSON the SDK parses,
tells plan calls from fix calls by the prompt's marker line and speech calls by their
`responseModalities: [AUDIO]` (answered with 24 kHz PCM), plays scripted replies (answers,
HTTP errors, malformed output, slow answers) per call kind, and logs every request.
`GeminiDouble` is an async context manager; `GeminiDoubleThread` runs one in a background
thread for synchronous code; `python -m scenefarm_devkit.serve_gemini_double` serves one.
"""

from scenefarm_devkit.gemini_double.replies import Reply
from scenefarm_devkit.gemini_double.server import GeminiDouble, GeminiDoubleThread, LoggedRequest

__all__ = ["GeminiDouble", "GeminiDoubleThread", "LoggedRequest", "Reply"]
