"""The bench's processes: the bot started as `make run` would, timed by its CPU, stopped."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

from tools.local_peers import free_port

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_bot(bot: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = {
        "ours": [sys.executable, "app.py"],
        "samples": [sys.executable, "-m", "bench.samples_bot"],
        "raw": [sys.executable, "-m", "bench.raw_bot"],
    }[bot]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port), "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}/api/messages"


async def wait_until_up(
    url: str, process: subprocess.Popen[bytes] | multiprocessing.Process, seconds: float = 30
) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(seconds * 10)):
            if _exit_code(process) is not None:
                raise RuntimeError(f"the bot exited with {_exit_code(process)}")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start")


def _exit_code(process: subprocess.Popen[bytes] | multiprocessing.Process) -> int | None:
    if isinstance(process, subprocess.Popen):
        return process.poll()
    return None if process.is_alive() else process.exitcode


def stop_bot(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
