"""`python -m scenefarm_devkit.serve_gemini_double [--port 8765] [--api-key KEY] [--script FILE]`.

Serves the double until interrupted. `--script` takes a JSON file
`{"plan": [{"status": 429}, {"text": "..."}], "fix": [...]}` of replies to play first;
more can be queued at runtime with `POST /_double/script`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path

from scenefarm_devkit.doubles import gemini_double
from scenefarm_devkit.gemini_double import Reply


async def serve(args: argparse.Namespace) -> None:
    async with gemini_double(host=args.host, port=args.port, api_key=args.api_key) as double:
        if args.script:
            for kind, replies in json.loads(Path(args.script).read_text()).items():
                double.script(kind, *(Reply.from_json(r) for r in replies))
        print(f"gemini double on {double.base_url} (set SCENEFARM_GEMINI_BASE_URL to it)", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scenefarm_devkit.serve_gemini_double")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--script", default=None, help="JSON file of replies per call kind")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
