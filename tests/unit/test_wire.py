"""The fast wire form is msrest's, to the key."""

import pytest
from botbuilder.schema import Activity

from channels.render import render
from channels.replies import Card, Reply
from state.wire import from_json, to_json

TEAMS_MESSAGE = {
    "type": "message",
    "id": "1700000000000",
    "timestamp": "2026-11-24T10:00:00.123Z",
    "localTimestamp": "2026-11-24T11:00:00.123+01:00",
    "localTimezone": "Europe/Paris",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
    "channelId": "msteams",
    "from": {"id": "29:1abc", "name": "Alex", "aadObjectId": "aad-1"},
    "conversation": {"id": "a:1xyz", "conversationType": "personal", "tenantId": "t-1"},
    "recipient": {"id": "28:bot", "name": "Customer Service"},
    "textFormat": "plain",
    "locale": "en-US",
    "text": "<at>Customer Service</at> where is my order?",
    "entities": [
        {"type": "mention", "text": "<at>Customer Service</at>",
         "mentioned": {"id": "28:bot", "name": "Customer Service"}},
        {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"},
    ],
    "channelData": {"tenant": {"id": "t-1"}, "source": {"name": "message"}},
    "value": {"orderNumber": "123456"},
    "membersAdded": [{"id": "29:1abc"}],
}  # fmt: skip


def test_an_incoming_teams_message_reads_as_msrest_reads_it() -> None:
    ours, theirs = from_json(Activity, TEAMS_MESSAGE), Activity.deserialize(TEAMS_MESSAGE)
    for attribute in Activity._attribute_map:
        if attribute not in ("entities", "conversation"):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert ours.entities[0].additional_properties["mentioned"]["id"] == "28:bot"
    assert ours.conversation.conversation_type == "personal"
    # Written back, nothing is lost (msrest drops the entities' fields and the tenant id),
    # and times are in UTC as msrest writes them.
    assert to_json(ours) == {
        **TEAMS_MESSAGE, "localTimestamp": theirs.serialize()["localTimestamp"],
    }  # fmt: skip


@pytest.mark.parametrize("channel", ["msteams", "webchat", "facebook", "sms"])
def test_every_rendered_reply_writes_as_msrest_writes_it(channel: str) -> None:
    reply = Reply(
        "Your order 123456 is shipped.", ("Yes", "No"), Card("Order 123456", (("a", "b"),))
    )
    for message in render(reply, channel, "groupChat"):
        activity = Activity.deserialize(message)
        activity.from_property = Activity.deserialize(TEAMS_MESSAGE).recipient
        activity.reply_to_id = "1700000000000"
        assert to_json(activity) == activity.serialize()
        assert to_json(from_json(Activity, message)) == Activity.deserialize(message).serialize()


@pytest.mark.parametrize("bad", [{"timestamp": "yesterday"}, {"text": 5}, {"attachments": "x"}])
def test_a_malformed_activity_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        from_json(Activity, {"type": "message", **bad})
