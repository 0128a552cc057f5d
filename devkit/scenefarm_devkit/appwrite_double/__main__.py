"""`python -m scenefarm_devkit.appwrite_double --port N`: serve the double until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from scenefarm_devkit.appwrite_double.server import AppwriteDouble


async def serve(args: argparse.Namespace) -> None:
    double = AppwriteDouble(
        project=args.project,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        column_delay=args.column_delay,
    )
    async with double:
        print(f"Appwrite double on {double.endpoint} (project {double.project})", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--project", default="scenefarm-dev")
    # The key comes from the environment so it does not show in `ps`.
    parser.add_argument("--api-key", default=os.environ.get("APPWRITE_DOUBLE_API_KEY", "dev-api-key"))
    parser.add_argument("--column-delay", type=float, default=0.2)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
