"""The third-party Node servers in tests/peers, started on loopback and stopped by their PID.

The tests run against them, and `make webchat` / `make playground` let a person try the
bot through them:
- the Cosmos DB API (@vercel/cosmosdb-server, its missing-document defect patched by
  patch-package at install): HTTPS with a self-signed certificate, so the bot runs with
  COSMOS_VERIFY_TLS=false against it; data in memory only;
- a local Direct Line (offline-directline) for the real Web Chat;
- the Microsoft 365 Agents Playground, Teams-shaped traffic.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

PEERS = Path(__file__).resolve().parents[1] / "tests" / "peers"
CLI = PEERS / "node_modules" / "@vercel" / "cosmosdb-server" / "lib" / "cli.js"
# The emulator's well-known key: the server accepts any base64 key.
KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="


def install() -> None:
    """npm ci, when `make test` has not done it already."""
    if not CLI.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS, check=True, timeout=600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NodePeer:
    """A Node server of tests/peers on a loopback port, started and stopped by its PID."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, env: dict[str, str] | None = None) -> None:
        install()
        self._process = subprocess.Popen(
            self.command(),
            cwd=PEERS,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "NODE_NO_WARNINGS": "1", **(env or {})},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{type(self).__name__} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)  # a paused process cannot exit
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None

    def pause(self) -> None:
        """Stops answering without closing connections, as an overloaded service does."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


class CosmosServer(NodePeer):
    """The Cosmos DB API server. With `keep_alive` (the default) it keeps connections open,
    as Azure's does, and holds every request `latency_ms`; without, it is the package's own
    CLI, which closes every connection."""

    def __init__(self, keep_alive: bool = True, latency_ms: float = 0) -> None:
        super().__init__()
        self.keep_alive = keep_alive
        self.latency_ms = latency_ms
        self.endpoint = f"https://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.keep_alive:
            return ["node", str(PEERS / "cosmos.js"), str(self.port), f"{self.latency_ms:g}"]
        cli = PEERS / "node_modules" / "@vercel" / "cosmosdb-server" / "lib" / "cli.js"
        return ["node", str(cli), "--host", "127.0.0.1", "-p", str(self.port)]


class DirectLineServer(NodePeer):
    """offline-directline (tests/peers/directline.js), relaying to the bot at `bot_url`."""

    def __init__(self, port: int, bot_url: str) -> None:
        super().__init__(port)
        self.bot_url = bot_url
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["node", str(PEERS / "directline.js"), str(self.port), self.bot_url]


class AgentsPlayground(NodePeer):
    """Microsoft 365 Agents Playground: Teams-shaped traffic to the bot at `bot_url`.

    It has no host option; loopback-only.js makes it listen on 127.0.0.1 only."""

    def __init__(self, bot_url: str, channel: str = "msteams") -> None:
        super().__init__()
        self.bot_url = bot_url
        self.channel = channel
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cli = PEERS / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
        return [
            "node", str(cli), "start", "-e", self.bot_url, "-c", self.channel,
            "-p", str(self.port), "--su", f"{self.endpoint}/_connector", "--disable-telemetry",
        ]  # fmt: skip

    def start(self, env: dict[str, str] | None = None) -> None:
        preload = f"--require {PEERS / 'loopback-only.js'}"
        super().start({"TEAMSAPPTESTER_BROWSER": "none", "NODE_OPTIONS": preload, **(env or {})})
