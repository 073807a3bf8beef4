"""Peer ring: the bot on STORAGE=cosmos against a real Cosmos DB API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from azure.cosmos import documents as cosmos_documents
from botbuilder.azure import CosmosDbPartitionedConfig, CosmosDbPartitionedStorage
from botbuilder.dialogs import DialogInstance, DialogState

from channels import replies
from config import Settings
from customers.accounts import sign_customer_id
from state.bot_storage import BotStorage
from state.cosmos_store import CosmosDocumentStore
from tests.conftest import cosmos_settings, serve_bot, stored_customer, texts
from tests.peers.throttling_proxy import ThrottlingProxy
from tools.local_channel import ChannelUser, LocalChannel
from tools.local_peers import KEY, CosmosServer

STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


@asynccontextmanager
async def cosmos_documents_of(settings: Settings) -> AsyncIterator[CosmosDocumentStore]:
    """The bot's database, opened the way the bot opens it, for the test to look inside."""
    store = CosmosDocumentStore(
        str(settings.COSMOS_ENDPOINT),
        KEY,
        settings.COSMOS_DATABASE,
        settings.COSMOS_CONTAINER,
        verify_tls=False,
        create_container=True,
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def customer_context(settings: Settings, channel_id: str, user_id: str) -> dict:
    async with cosmos_documents_of(settings) as store:
        return (await stored_customer(store, channel_id, user_id))[1]


def botbuilder_azure_storage(settings: Settings) -> CosmosDbPartitionedStorage:
    policy = cosmos_documents.ConnectionPolicy()
    policy.DisableSSLVerification = True  # the local server's self-signed certificate
    return CosmosDbPartitionedStorage(
        CosmosDbPartitionedConfig(
            cosmos_db_endpoint=str(settings.COSMOS_ENDPOINT),
            auth_key=KEY,
            database_id=settings.COSMOS_DATABASE,
            container_id=settings.COSMOS_CONTAINER,
            cosmos_client_options={"connection_policy": policy},
        )
    )


async def test_the_conversation_and_a_restart_of_the_app(cosmos_server: CosmosServer) -> None:
    settings = cosmos_settings(cosmos_server)
    alice = ChannelUser("alice", "Alice")
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation(alice)
        assert texts(await conversation.join()) == [replies.WELCOME.text]
        assert texts(await conversation.say("where is my order?")) == [
            replies.ASK_ORDER_NUMBER.text
        ]
        assert texts(await conversation.say("123456")) == [STATUS_123456]

    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation(alice)
        assert texts(await conversation.say("where is my order?")) == [
            "Is this about order 123456?"
        ]
        assert texts(await conversation.say("yes")) == [STATUS_123456]


async def test_twenty_messages_at_once_in_one_conversation(cosmos_server: CosmosServer) -> None:
    settings = cosmos_settings(cosmos_server)
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation(ChannelUser("bob", "Bob"))
        await asyncio.gather(*(conversation.say("where is order 123456") for _ in range(20)))
        assert texts(channel.received(conversation.id)) == [STATUS_123456] * 20
    assert (await customer_context(settings, "webchat", "bob"))["messageCount"] == 20


async def test_an_activity_delivered_twice_is_answered_once(cosmos_server: CosmosServer) -> None:
    settings = cosmos_settings(cosmos_server)
    async with (
        serve_bot(settings) as first_url,
        serve_bot(settings) as second_url,
        LocalChannel(first_url) as channel,
        aiohttp.ClientSession() as http,
    ):
        conversation = channel.conversation()
        activity = conversation.activity(type="message", text="where is order 123456")
        # Teams redelivers after 15 s: later, to the same instance.
        await channel.post(activity)
        await channel.post(activity)
        assert texts(channel.received(conversation.id)) == [STATUS_123456]

        # At the same moment, to two instances.
        again = conversation.activity(type="message", text="where is order 234567")
        statuses = await asyncio.gather(
            *(http.post(url, json=again) for url in (first_url, second_url, first_url))
        )
        assert {response.status for response in statuses} <= {200, 201}
        assert len(texts(channel.received(conversation.id))) == 2
    assert (await customer_context(settings, "webchat", conversation.user.id))["messageCount"] == 2


async def test_state_written_by_botbuilder_azure_is_read_by_the_bot(
    cosmos_server: CosmosServer,
) -> None:
    settings = cosmos_settings(cosmos_server, CUSTOMER_ID_SIGNING_KEY="signing-key")
    async with cosmos_documents_of(settings):  # provisions the container
        pass
    theirs = botbuilder_azure_storage(settings)
    await theirs.write(
        {
            "customers/crm-1001": {
                "customerContext": {
                    "schemaVersion": 1,
                    "lastOrderNumber": "234567",
                    "lastOrderAt": "2026-11-20T09:00:00Z",
                }
            }
        }
    )
    # A signed-in web chat customer: the Direct Line user id carries the customer id.
    signed_in = ChannelUser(sign_customer_id("crm-1001", "signing-key"), "Dave")
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation(signed_in)
        assert texts(await conversation.say("where is my order?")) == [
            "Is this about order 234567?"
        ]


async def test_state_written_by_the_bot_is_read_by_botbuilder_azure(
    cosmos_server: CosmosServer,
) -> None:
    settings = cosmos_settings(cosmos_server)
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        await channel.conversation(ChannelUser("erin", "Erin")).say("where is order 123456")
    async with cosmos_documents_of(settings) as store:
        customer_id, _ = await stored_customer(store, "webchat", "erin")
    theirs = botbuilder_azure_storage(settings)
    found = await theirs.read([f"customers/{customer_id}"])
    context = found[f"customers/{customer_id}"]["customerContext"]
    assert (context["lastOrderNumber"], context["messageCount"]) == ("123456", 1)
    assert found[f"customers/{customer_id}"]["e_tag"]


async def test_objects_jsonpickle_stored_are_never_restored(cosmos_server: CosmosServer) -> None:
    settings = cosmos_settings(cosmos_server)
    async with cosmos_documents_of(settings) as store:
        theirs = botbuilder_azure_storage(settings)
        key = "webchat/conversations/c-1"
        dialog_state = DialogState([DialogInstance("OrderStatusDialog", {"stepIndex": 1})])
        await theirs.write({key: {"DialogState": dialog_state, "note": "plain"}})
        assert "py/object" in str((await store.read([key]))[key].data)

        item = (await BotStorage(store).read([key]))[key]
    assert "DialogState" not in item  # dropped, so the next message starts the dialog anew
    assert item["note"] == "plain"


async def test_throttling_is_waited_out_within_its_budget_and_apologised_past_it(
    cosmos_server: CosmosServer,
) -> None:
    async with ThrottlingProxy(cosmos_server.port) as proxy:
        settings = cosmos_settings(cosmos_server, COSMOS_ENDPOINT=proxy.endpoint)
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            conversation = channel.conversation(ChannelUser("frank", "Frank"))
            proxy.throttle(3, retry_after_ms=100)
            assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]
            assert proxy.throttled == 3

            proxy.throttle(1000, retry_after_ms=1000)
            started = time.monotonic()
            answer = await conversation.say("where is order 234567")
            assert texts(answer) == [replies.TURN_FAILED.text]
            assert time.monotonic() - started < 10  # inside Teams' 15 s, not Cosmos' 30 s
            proxy.throttle(0)
        # Nothing of the throttled turn was written.
        context = await customer_context(settings, "webchat", "frank")
        assert (context["messageCount"], context["lastOrderNumber"]) == (1, "123456")


async def test_cosmos_stopped_mid_run_then_back() -> None:
    server = CosmosServer()
    server.start()
    settings = cosmos_settings(server)
    try:
        async with (
            serve_bot(settings) as bot_url,
            LocalChannel(bot_url) as channel,
            aiohttp.ClientSession() as http,
        ):
            health_url = bot_url.replace("/api/messages", "/healthz")
            conversation = channel.conversation()
            assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]

            server.stop()
            async with http.get(health_url) as response:
                assert response.status == 503
                assert (await response.json())["storage"] == "unreachable"
            assert texts(await conversation.say("where is order 123456")) == [
                replies.TURN_FAILED.text
            ]

            # Back, with its data (the local server keeps none, so the test restores the
            # container the templates would have kept).
            server.start()
            async with cosmos_documents_of(settings):
                pass
            async with http.get(health_url) as response:
                assert response.status == 200
            assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]

            # Hanging rather than gone: every call gives up at its deadline.
            server.pause()
            async with http.get(health_url) as response:
                assert response.status == 503
            assert texts(await conversation.say("where is order 123456")) == [
                replies.TURN_FAILED.text
            ]
            server.resume()
            assert texts(await conversation.say("where is order 123456")) == [STATUS_123456]
    finally:
        server.stop()
