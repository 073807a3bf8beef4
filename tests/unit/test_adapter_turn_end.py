"""The adapter at the end of a turn: what the turn held is let go, its answer kept."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bots.adapter import ChannelAuthentication, LeanCloudAdapter
from tests.conftest import make_settings


def activity(**fields: object) -> Activity:
    return Activity(
        id="a1", channel_id="msteams", service_url="https://smba.example",
        conversation=ConversationAccount(id="c1"), from_property=ChannelAccount(id="u1"),
        recipient=ChannelAccount(id="bot"), **fields,
    )  # fmt: skip


async def test_a_turns_state_is_let_go_when_it_ends_and_an_invoke_is_still_answered() -> None:
    adapter = LeanCloudAdapter(ChannelAuthentication(make_settings(), None))
    seen: list[TurnContext] = []

    async def logic(context: TurnContext) -> None:
        seen.append(context)
        context.turn_state["held by the turn"] = context  # a cycle, as dialog contexts make
        if context.activity.type == ActivityTypes.invoke:
            await context.send_activity(
                Activity(type=ActivityTypes.invoke_response, value={"status": 200, "body": {}})
            )

    assert await adapter.process_activity("", activity(type="event", name="x"), logic) is None
    answer = await adapter.process_activity("", activity(type="invoke", name="y"), logic)
    assert answer == {"status": 200, "body": {}}
    assert [dict(context.turn_state) for context in seen] == [{}, {}]
