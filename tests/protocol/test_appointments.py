"""Protocol ring: appointments over the bot's HTTP endpoint, with the embedded scheduler
and with a company's scheduling API that fails, hangs or has just given the slot away."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from channels import replies
from tests.conftest import NOW, make_settings, serve, serve_bot, texts
from tests.scheduling_api import StandIn
from tools.local_channel import ChannelUser, LocalChannel

BOOKING = ["I need my laptop repaired", "Oxford Street", "tomorrow at 3pm",
           "Wed 25 Nov, 3:00 PM"]  # fmt: skip
_REFERENCE = re.compile(r"AP-[A-Z0-9]{6}")


async def test_a_booking_over_http_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    user = ChannelUser("visitor-ada", "Ada")
    async with serve_bot(settings) as url, LocalChannel(url) as web:
        chat = web.conversation(user)
        for line in BOOKING:
            await chat.say(line)
        (booked,) = texts(await chat.say("yes"))
    reference = _REFERENCE.search(booked).group()
    # A new process over the same database: the appointment is still there, and still hers.
    async with serve_bot(settings) as url, LocalChannel(url) as web:
        (details,) = texts(await web.conversation(user).say("when is my appointment?"))
    assert reference in details and "Wed 25 Nov, 3:00 PM" in details


async def test_two_customers_racing_for_one_slot_on_two_instances(tmp_path: Path) -> None:
    settings = make_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"))
    async with (
        serve_bot(settings) as one_url,
        serve_bot(settings) as two_url,
        LocalChannel(one_url) as one,
        LocalChannel(two_url) as two,
    ):
        first = one.conversation(ChannelUser("visitor-1", "One"))
        second = two.conversation(ChannelUser("visitor-2", "Two"))
        for line in BOOKING:
            await asyncio.gather(first.say(line), second.say(line))
        answers = await asyncio.gather(first.say("yes"), second.say("yes"))
    said = sorted((texts(a) for a in answers), key=len)
    assert said[0][0].startswith("Booked: an in-store repair at Oxford Street on Wed 25 Nov")
    assert said[1][0] == replies.SLOT_JUST_TAKEN.text
    assert said[1][1].startswith("Here are the nearest free times")


async def test_a_company_scheduling_api_serves_the_booking_and_its_failures(
    tmp_path: Path,
) -> None:
    stand_in = StandIn(lambda: NOW)
    async with serve(stand_in.app()) as api:
        settings = make_settings(SCHEDULING_API_URL=api, SCHEDULING_API_KEY="key-1")
        async with serve_bot(settings) as url, LocalChannel(url) as web:
            chat = web.conversation()
            for line in BOOKING:
                await chat.say(line)
            (booked,) = texts(await chat.say("yes"))
            assert booked.startswith("Booked:")
            assert all(r.headers.get("X-API-Key") == "key-1" for r in stand_in.requests)

            # The slot given away meanwhile (409): said so, the next ones offered.
            other = web.conversation()
            for line in [*BOOKING[:-1], "Wed 25 Nov, 3:30 PM"]:  # 3:00 PM is booked now
                await other.say(line)
            stand_in.failures = [409]
            taken = texts(await other.say("yes"))
            assert taken[0] == replies.SLOT_JUST_TAKEN.text

            # Failing (a hang is the same within its deadline: tests/unit): an apology, and
            # the conversation goes on.
            stand_in.failures = [503] * 5
            third = web.conversation()
            await third.say("I need my laptop repaired")
            await third.say("Oxford Street")
            assert texts(await third.say("tomorrow at 3pm")) == [replies.SCHEDULING_DOWN.text]
            stand_in.failures = []
            assert texts(await third.say("thanks")) == [replies.YOU_ARE_WELCOME.text]
