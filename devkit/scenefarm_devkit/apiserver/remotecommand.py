"""`pods/<name>/exec`: the WebSocket remote-command protocol kubectl 1.30+ and the Python client speak.

Subprotocols `v5.channel.k8s.io` (with the CLOSE signal kubectl cp needs to end stdin),
`v4.channel.k8s.io` and older channel.k8s.io variants: every binary message starts with one
byte naming the stream (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close in v5).
When the command ends the error stream carries a meta/v1 Status: `Success`, or `Failure` with
reason `NonZeroExitCode` and the exit code as an `ExitCode` cause (what makes kubectl exit with
the same code), exactly as the kubelet writes it. SPDY (kubectl's fallback) is not served.

The command runs as a local process with the container's environment and working directory as
the Job runner left them in `exec.json`; arguments under a volume's mount path are rewritten to
the volume's local directory, and `python`/`python3` run this interpreter, as for the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web

from scenefarm_devkit.apiserver import errors
from scenefarm_devkit.apiserver.podlogs import container_of, container_status, pod_dir
from scenefarm_devkit.apiserver.store import Store

EXEC_CONTEXT = "exec.json"
PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_PYTHON = re.compile(r"python(3(\.\d+)?)?")


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "") in ("true", "1")


def _rewrite(value: str, mounts: Mapping[str, str]) -> str:
    """A container path under a mount -> the mount's local directory (longest mount wins)."""
    for mount in sorted(mounts, key=len, reverse=True):
        prefix = mount.rstrip("/") + "/"
        if value == mount or value == mount.rstrip("/"):
            return mounts[mount]
        if value.startswith(prefix):
            return str(Path(mounts[mount]) / value[len(prefix) :])
    return value


def local_command(command: Sequence[str], mounts: Mapping[str, str]) -> list[str]:
    argv = [_rewrite(arg, mounts) for arg in command]
    if argv and _PYTHON.fullmatch(argv[0]):
        argv[0] = sys.executable
    if list(command[:3]) == ["tar", "cf", "-"] and len(command) == 4 and argv[3] != command[3]:
        return _tar_out(command[3], argv[3])
    return argv


def _tar_out(container_path: str, local_path: str) -> list[str]:
    """`kubectl cp pod:/mount/file .` runs `tar cf - /mount/file`: the archive must name the
    container's path, not the volume's local directory (kubectl checks the prefix)."""
    local, inside = local_path.lstrip("/"), container_path.lstrip("/")
    pattern = re.sub(r"([.\[\]*^$\\|])", r"\\\1", local)
    return ["tar", "cf", "-", "-C", "/", f"--transform=s|^{pattern}|{inside}|", local]


def _exit_status(code: int) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _internal(message: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "code": 500,
    }


def exec_context(
    store: Store, roots: Sequence[Path], namespace: str, name: str, query: Any
) -> dict[str, Any]:
    """What to run and where, or the API server's / kubelet's error before any upgrade."""
    pod = store.get(("", "pods", namespace, name))
    if pod is None:
        raise errors.not_found("pods", "", name)
    container = container_of(pod, query.get("container", ""))["name"]
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise errors.BadRequest(f"cannot exec into a container in a completed pod; current phase is {phase}")
    command = query.getall("command", [])
    if not command:
        raise errors.BadRequest("you must specify at least 1 command")
    directory = pod_dir(roots, namespace, name)
    running = "running" in (container_status(pod, container).get("state") or {})
    context_file = directory / EXEC_CONTEXT if directory is not None else None
    if not running or context_file is None or not context_file.is_file():
        raise errors.BadRequest(f'unable to upgrade connection: container not found ("{container}")')
    context: dict[str, Any] = json.loads(context_file.read_text(encoding="utf-8"))
    context["argv"] = local_command(command, context.get("mounts") or {})
    return context


async def serve(
    store: Store, roots: Sequence[Path], request: aiohttp.web.BaseRequest, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    context = exec_context(store, roots, namespace, name, request.query)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.BadRequest(
            "unable to upgrade connection: the dev cluster serves exec over WebSocket "
            f"({', '.join(PROTOCOLS[:2])}) only, not SPDY"
        )
    ws = aiohttp.web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, heartbeat=None)
    await ws.prepare(request)
    query = request.query
    session = _Session(ws, context, stdin=_flag(query, "stdin"), tty=_flag(query, "tty"))
    with contextlib.suppress(ConnectionError):
        await session.run(stdout=_flag(query, "stdout"), stderr=_flag(query, "stderr"))
    return ws


class _Session:
    """One exec: the local process and the WebSocket it is multiplexed over."""

    def __init__(
        self, ws: aiohttp.web.WebSocketResponse, context: Mapping[str, Any], *, stdin: bool, tty: bool
    ) -> None:
        self.ws = ws
        self.context = context
        self.stdin = stdin
        self.tty = tty
        self.lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_bytes(bytes([channel]) + data)

    async def run(self, *, stdout: bool, stderr: bool) -> None:
        try:
            process, master = await self._start(stdout=stdout, stderr=stderr)
        except OSError as exc:
            await self.send(ERROR, json.dumps(_internal(_start_error(self.context["argv"], exc))).encode())
            await self.ws.close()
            return
        pumps = [asyncio.create_task(self._pump_out(process, master))]
        reader = asyncio.create_task(self._pump_in(process, master))
        try:
            code = await process.wait()
            await asyncio.gather(*pumps)
            if code < 0:
                code = 128 - code
            await self.send(ERROR, json.dumps(_exit_status(code)).encode())
            await self.ws.close()
        finally:
            reader.cancel()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            if master is not None:
                os.close(master)

    async def _start(self, *, stdout: bool, stderr: bool) -> tuple[asyncio.subprocess.Process, int | None]:
        env, cwd = dict(self.context.get("env") or {}), self.context.get("cwd") or None
        devnull = asyncio.subprocess.DEVNULL
        if self.tty:
            master, slave = pty.openpty()
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.context["argv"], env=env, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                    start_new_session=True,
                )  # fmt: skip
            finally:
                os.close(slave)
            return process, master
        process = await asyncio.create_subprocess_exec(
            *self.context["argv"],
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if self.stdin else devnull,
            stdout=asyncio.subprocess.PIPE if stdout else devnull,
            stderr=asyncio.subprocess.PIPE if stderr else devnull,
            start_new_session=True,
        )
        return process, None

    async def _pump_out(self, process: asyncio.subprocess.Process, master: int | None) -> None:
        if master is not None:
            loop = asyncio.get_running_loop()
            while True:
                try:
                    chunk = await loop.run_in_executor(None, os.read, master, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    return
                if not chunk:
                    return
                await self.send(STDOUT, chunk)
        streams = [(STDOUT, process.stdout), (STDERR, process.stderr)]
        await asyncio.gather(*(self._copy(ch, s) for ch, s in streams if s is not None))

    async def _copy(self, channel: int, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            await self.send(channel, chunk)

    async def _pump_in(self, process: asyncio.subprocess.Process, master: int | None) -> None:
        """Client messages: stdin data, v5 CLOSE of stdin, resizes (ignored); a hang-up kills."""
        async for message in self.ws:
            # Text frames too: the Python client sends str stdin as text (the kubelet takes both).
            raw = message.data.encode() if message.type == aiohttp.WSMsgType.TEXT else message.data
            if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT) or not raw:
                continue
            channel, data = raw[0], raw[1:]
            if channel == STDIN and data:
                if master is not None:
                    os.write(master, data)
                elif process.stdin is not None:
                    process.stdin.write(data)
                    with contextlib.suppress(ConnectionError):
                        await process.stdin.drain()
            elif channel == CLOSE and data[:1] == bytes([STDIN]) and process.stdin is not None:
                process.stdin.close()
        if process.returncode is None:  # the client hung up before the command ended
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def _start_error(argv: Sequence[str], exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        reason = f'exec: "{argv[0]}": executable file not found in $PATH'
    else:
        reason = f'exec: "{argv[0]}": {exc.strerror or exc}'
    return (
        "error executing command in container: failed to exec in container: "
        f"OCI runtime exec failed: exec failed: unable to start container process: {reason}: unknown"
    )
