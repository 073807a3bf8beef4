"""Try the bot as customers see it, offline: the real Web Chat, or Teams in the Agents Playground.

    make webchat       # the bot, a local Direct Line and the Web Chat bundle: open /chat
    make playground    # the bot and the Microsoft 365 Agents Playground: Teams, in a browser

Each starts the bot (settings from the environment and `.env`, as `make run`) with
the peer the tests use (tests/peers, installed by npm), prints the address to open,
and stops the peer when the bot stops.
"""

from __future__ import annotations

import argparse
import os
import sys

from app import serve
from config import ConfigError, load_settings
from tools.local_peers import PEERS, AgentsPlayground, DirectLineServer, NodePeer, free_port

WEBCHAT_BUNDLE = PEERS / "webchat" / "webchat.js"


def _bot_port() -> int:
    try:
        return load_settings().PORT
    except ConfigError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        sys.exit(2)


def webchat() -> tuple[NodePeer, str]:
    """A local Direct Line relaying to the bot; the bot serves the Web Chat bundle itself."""
    port = _bot_port()
    direct_line = DirectLineServer(free_port(), f"http://127.0.0.1:{port}/api/messages")
    os.environ.update(
        DIRECT_LINE_SECRET="local-direct-line",  # the local Direct Line takes any secret
        DIRECT_LINE_ENDPOINT=direct_line.endpoint,
        WEBCHAT_BUNDLE_FILE=str(WEBCHAT_BUNDLE),
    )
    return direct_line, "  Web Chat:    open {base}/chat in a browser (local Direct Line)\n"


def playground() -> tuple[NodePeer, str]:
    """The Agents Playground posting Teams-shaped activities to the bot."""
    port = _bot_port()
    peer = AgentsPlayground(f"http://127.0.0.1:{port}/api/messages")
    return peer, f"  Teams:       open {peer.endpoint}/ in a browser (Agents Playground)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("channel", choices=("webchat", "playground"))
    arguments = parser.parse_args()
    if arguments.channel == "webchat" and not WEBCHAT_BUNDLE.is_file():
        print(f"Cannot start: no Web Chat bundle at {WEBCHAT_BUNDLE} (make webchat fetches it)",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    peer, where = webchat() if arguments.channel == "webchat" else playground()
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        sys.exit(2)
    peer.start()
    try:
        serve(settings, where)
    finally:
        peer.stop()


if __name__ == "__main__":
    main()
