"""The same order-status job written the samples' way, for the benchmark to compare against.

As BotBuilder-Samples' Python bots do (05.multi-turn-prompt, 45.state-management):
CloudAdapter with its defaults, UserState and ConversationState, a 2-step
WaterfallDialog, `adapter.process` behind `aiohttp_error_middleware`, and
MemoryStorage or botbuilder-azure's CosmosDbPartitionedStorage. Run by `make bench`
only; settings from the environment (PORT, STORAGE, ORDER_API_URL, COSMOS_*).
"""

from __future__ import annotations

import os

import aiohttp
from aiohttp import web
from botbuilder.core import (
    ActivityHandler,
    ConversationState,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    UserState,
)
from botbuilder.dialogs import (
    DialogSet,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptOptions, TextPrompt
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    aiohttp_error_middleware,
)


class DefaultConfig:
    PORT = int(os.environ.get("PORT", "3979"))
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


def make_storage():
    if os.environ.get("STORAGE") == "cosmos":
        from azure.cosmos import documents
        from botbuilder.azure import CosmosDbPartitionedConfig, CosmosDbPartitionedStorage

        policy = documents.ConnectionPolicy()
        policy.DisableSSLVerification = True
        return CosmosDbPartitionedStorage(
            CosmosDbPartitionedConfig(
                cosmos_db_endpoint=os.environ["COSMOS_ENDPOINT"],
                auth_key=os.environ["COSMOS_KEY"],
                database_id=os.environ["COSMOS_DATABASE"],
                container_id=os.environ["COSMOS_CONTAINER"],
                cosmos_client_options={"connection_policy": policy},
            )
        )
    return MemoryStorage()


class OrderBot(ActivityHandler):
    def __init__(self, conversation_state, user_state, dialog_set, dialog_state) -> None:
        self.conversation_state = conversation_state
        self.user_state = user_state
        self.dialogs = dialog_set
        self.dialog_state = dialog_state

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self.conversation_state.save_changes(turn_context)
        await self.user_state.save_changes(turn_context)

    async def on_members_added_activity(self, members_added, turn_context: TurnContext) -> None:
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity("Hi, I can tell you where your order is.")

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        dialog_context = await self.dialogs.create_context(turn_context)
        results = await dialog_context.continue_dialog()
        if results.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("order")


def main() -> None:
    storage = make_storage()
    conversation_state = ConversationState(storage)
    user_state = UserState(storage)
    dialog_state = conversation_state.create_property("DialogState")
    dialogs = DialogSet(dialog_state)
    order_api = os.environ["ORDER_API_URL"].rstrip("/")

    async def ask(step: WaterfallStepContext):
        return await step.prompt(
            "number",
            PromptOptions(prompt=MessageFactory.text("Can you provide your order number?")),
        )

    async def answer(step: WaterfallStepContext):
        number = "".join(ch for ch in step.result if ch.isdigit())
        # One shared session, to be fair to the samples' pattern.
        async with sessions[0].get(f"{order_api}/orders/{number}") as response:
            order = await response.json()
        await step.context.send_activity(
            MessageFactory.text(f"Your order {number} is {order['status']}.")
        )
        return await step.end_dialog()

    dialogs.add(TextPrompt("number"))
    dialogs.add(WaterfallDialog("order", [ask, answer]))
    bot = OrderBot(conversation_state, user_state, dialogs, dialog_state)
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(DefaultConfig()))

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    sessions: list[aiohttp.ClientSession] = []

    async def http_session(_: web.Application):
        sessions.append(aiohttp.ClientSession())
        yield
        await sessions[0].close()

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    app.cleanup_ctx.append(http_session)
    web.run_app(app, host="127.0.0.1", port=DefaultConfig.PORT, print=None, access_log=None)


if __name__ == "__main__":
    main()
