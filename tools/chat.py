"""Talk to a running bot from the terminal, as a customer on a channel would.

    make chat                                   # web chat, as a new customer
    make chat ARGS="--channel msteams --user alice"
    make chat ARGS="--channel sms"              # plain text, choices numbered
    make chat ARGS="--url http://localhost:3979/api/messages"
    make chat ARGS="--agent"                    # the other side: an agent in Teams

As an agent (HANDOFF_TEAM_ID set in `.env` for `make run` and here), this client is a
member of that team writing in its agents' channel: it names the channel (/desk here),
shows each waiting customer's card, and `/take` takes the newest, after which what you
type goes to that customer; `/end` hands them back to the bot, `/queue` lists who waits.

The bot's address comes from PORT (the environment or `.env`, as `make run` reads it)
unless --url names another.

Replies arrive on this client's own local connector (the serviceUrl it sends),
so this is the same protocol Teams, Web Chat and Messenger use. Suggested
actions are shown numbered: type the number to pick one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from typing import Any

import aiohttp

from channels.render import KNOWN_CHANNELS
from config import ConfigError, load_settings
from tools.local_channel import ChannelUser, LocalChannel, TeamsChannelThread

AGENTS_CHANNEL = "19:local-agents@thread.tacv2"


class Transcript:
    """Prints the bot's activities as readable text and remembers the offered choices."""

    def __init__(self) -> None:
        self.choices: list[str] = []

    def show(self, activity: dict[str, Any]) -> None:
        kind = activity.get("type")
        if kind == "typing":
            print("  (typing…)", flush=True)
            return
        if kind == "trace":
            print(
                f"  [trace] {activity.get('label') or activity.get('name')}: "
                f"{activity.get('value')}",
                flush=True,
            )
            return
        if kind != "message":
            print(f"  [{kind}]", flush=True)
            return
        if activity.get("text"):
            print(
                textwrap.indent(activity["text"], "bot> ", lambda _: True).replace(
                    "\nbot> ", "\n     "
                ),
                flush=True,
            )
        for attachment in activity.get("attachments") or []:
            for line in _card_lines(attachment):
                print(f"     {line}", flush=True)
        actions = (activity.get("suggestedActions") or {}).get("actions") or []
        if actions:
            self.choices = [str(a.get("value") or a.get("title")) for a in actions]
            listed = "   ".join(f"[{i}] {a.get('title')}" for i, a in enumerate(actions, 1))
            print(f"     {listed}", flush=True)


def _card_lines(attachment: dict[str, Any]) -> list[str]:
    content = attachment.get("content") or {}
    kind = attachment.get("contentType", "")
    if kind == "application/vnd.microsoft.card.adaptive":
        return [
            *_adaptive_texts(content.get("body") or []),
            *(f"[{a.get('title')}]" for a in content.get("actions") or []),
        ]
    if kind.startswith("application/vnd.microsoft.card."):
        lines = [content.get(k) for k in ("title", "subtitle", "text") if content.get(k)]
        return [*lines, *(f"[{b.get('title')}]" for b in content.get("buttons") or [])]
    return [f"(attachment: {kind or 'unknown'} {attachment.get('name') or ''})".strip()]


def _adaptive_texts(elements: list[dict[str, Any]]) -> list[str]:
    texts = []
    for element in elements:
        if element.get("type") == "TextBlock" and element.get("text"):
            texts.append(element["text"])
        if element.get("type") == "FactSet":
            texts.extend(f"{fact['title']}: {fact['value']}" for fact in element.get("facts", []))
        for nested in ("items", "columns"):
            texts.extend(_adaptive_texts(element.get(nested) or []))
    return texts


async def chat(url: str, channel_id: str, user_id: str) -> int:
    transcript = Transcript()
    async with LocalChannel(url, channel_id, on_reply=transcript.show) as channel:
        conversation = channel.conversation(ChannelUser(user_id, user_id.title()))
        print(f"Talking to {url} as {user_id} on {channel_id}. Ctrl+D or /quit to leave.")
        try:
            await conversation.join()
            loop = asyncio.get_running_loop()
            while True:
                print("you> ", end="", flush=True)
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line or line.strip() == "/quit":
                    print()
                    return 0
                text = line.strip()
                if not text:
                    continue
                if text.isdigit() and 1 <= int(text) <= len(transcript.choices):
                    text = transcript.choices[int(text) - 1]
                    print(f"     ({text})")
                transcript.choices = []
                await conversation.say(text)
        except aiohttp.ClientConnectionError:
            print(
                f"\nNo bot answers at {url}. Start it with `make run` in another terminal.",
                file=sys.stderr,
            )
            return 1
        except RuntimeError as error:
            print(f"\n{error}", file=sys.stderr)
            return 1


class Cards:
    """The case cards the agents' channel has seen: card id -> case id, newest last."""

    def __init__(self, transcript: Transcript) -> None:
        self._transcript = transcript
        self.cases: dict[str, str] = {}

    def show(self, activity: dict[str, Any]) -> None:
        self._transcript.show(activity)
        for attachment in activity.get("attachments") or []:
            for action in (attachment.get("content") or {}).get("actions") or []:
                case = (action.get("data") or {}).get("case")
                if case and activity.get("id"):
                    self.cases[activity["id"]] = case


async def agent_chat(url: str, agent_id: str, team_id: str) -> int:
    cards = Cards(Transcript())
    async with LocalChannel(url, "msteams", on_reply=cards.show) as teams:
        agent = ChannelUser(agent_id, agent_id.title())
        channel = teams.channel_thread(agent, AGENTS_CHANNEL, team_id)
        thread: TeamsChannelThread | None = None
        print(f"Agent {agent.name} in the agents' channel of team {team_id}, at {url}.\n"
              "  /take: take the newest case; then type to the customer; /end; /queue; "
              "/quit")  # fmt: skip
        try:
            await channel.say("/desk here")
            loop = asyncio.get_running_loop()
            while True:
                print("agent> ", end="", flush=True)
                line = await loop.run_in_executor(None, sys.stdin.readline)
                text = line.strip()
                if not line or text == "/quit":
                    print()
                    return 0
                if not text:
                    continue
                if text == "/take":
                    if not cards.cases:
                        print("     (no case card yet)")
                        continue
                    card_id, case_id = list(cards.cases.items())[-1]
                    thread = channel.thread(card_id)
                    await thread.say(value={"handoffAction": "take", "case": case_id})
                elif text == "/queue" or thread is None:
                    await channel.say(text)
                else:
                    await thread.say(text)
                    if text == "/end":
                        thread = None
        except aiohttp.ClientConnectionError:
            print(f"\nNo bot answers at {url}. Start it with `make run` in another terminal.",
                  file=sys.stderr)  # fmt: skip
            return 1


def default_url() -> str:
    """Where `make run` serves: PORT from the environment or `.env`."""
    try:
        port = load_settings().PORT
    except ConfigError as error:
        print(f"Cannot read the bot's settings: {error}", file=sys.stderr)
        sys.exit(2)
    return f"http://localhost:{port}/api/messages"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", help="the bot's messaging endpoint (default: localhost at PORT from .env)"
    )
    parser.add_argument(
        "--channel",
        choices=KNOWN_CHANNELS,
        default="webchat",
        help="which channel's activities to send",
    )
    parser.add_argument("--user", default="customer", help="the customer's channel user id")
    parser.add_argument(
        "--agent", action="store_true", help="be an agent in the agents' Teams channel"
    )
    arguments = parser.parse_args()
    try:
        url = arguments.url or default_url()
        if arguments.agent:
            team_id = load_settings().HANDOFF_TEAM_ID
            if not team_id:
                print("Set HANDOFF_TEAM_ID in .env (any id, e.g. 19:local-team@thread.tacv2), "
                      "restart make run, then try again: only that team's members are agents.",
                      file=sys.stderr)  # fmt: skip
                sys.exit(2)
            user = arguments.user if arguments.user != "customer" else "agent"
            sys.exit(asyncio.run(agent_chat(url, user, team_id)))
        sys.exit(asyncio.run(chat(url, arguments.channel, arguments.user)))
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
