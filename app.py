"""The composition root and HTTP host.

`create_app(settings)` builds every piece from one Settings object and returns the
aiohttp application; `python app.py` serves it with settings from the environment.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from aiohttp import web
from botbuilder.core import ConversationState, serializer_helper
from botbuilder.schema import Activity
from pydantic import SecretStr

from analytics.app_insights import AppInsightsEvents, NotCustomEvents, fan_out
from analytics.event_log import StoredEventLog
from analytics.events import ConversationEvent
from analytics.web_api import AnalyticsApi
from bots.adapter import ChannelAuthentication, LeanCloudAdapter
from bots.agent_desk import AgentDeskMiddleware, AgentPolicy
from bots.analytics_middleware import AnalyticsMiddleware
from bots.channel_tokens import ChannelTokenValidator
from bots.customer_service_bot import CustomerServiceBot
from bots.feedback import FeedbackCollector
from bots.handoff_relay import HandoffRelay
from bots.outbound import ChannelOutbound, NoChannels
from bots.translation import TurnTranslation
from bots.turn_errors import turn_error_handler
from config import ConfigError, Settings, load_settings
from customers.directory import DemoCustomerDirectory
from customers.identity import IdentityService
from customers.privacy import PrivacyPolicy
from dialogs.booking_dialog import BookingDialog
from dialogs.change_appointment_dialog import ChangeAppointmentDialog
from dialogs.clock import Clock, system_clock
from dialogs.frustration import FrustrationWatch
from dialogs.handoff_dialog import HandoffDialog
from dialogs.main_dialog import MainDialog
from dialogs.order_status_dialog import OrderStatusDialog
from dialogs.troubleshooting_dialog import TroubleshootingDialog
from handoff.desk import AgentDesk, Outbound
from handoff.protocol_desk import ProtocolDesk
from handoff.service import HandoffService
from handoff.teams_desk import TeamsDesk
from handoff.timer import handoff_timer
from nlu.clu import CluRecognizer
from nlu.embedded import EmbeddedRecognizer
from nlu.frustration import FrustrationScorer
from nlu.language import SUPPORTED as LANGUAGES
from nlu.language import LanguageDetector
from nlu.multilingual import MultilingualRecognizer
from nlu.policy import Thresholds
from nlu.recognizer import Recognizer
from nlu.review import ReviewQueue
from nlu.training import TrainingDataError
from notifications.outbox import Outbox
from notifications.sender import UpdateSender
from notifications.updates import Updates
from notifications.web_api import OrderEventsApi
from services.demo_orders import DemoOrderService
from services.demo_scheduling import DemoSchedulingService
from services.direct_line import DirectLineTokens
from services.http_orders import HttpOrderService
from services.http_scheduling import HttpSchedulingService
from services.orders import OrderService
from services.scheduling import SchedulingService
from services.tickets import StoredTickets, TicketService
from services.translator import AzureTranslator
from services.webhook_tickets import WebhookTickets
from state.bot_storage import BotStorage, StateTtl
from state.cosmos_store import CosmosDocumentStore
from state.customer_context import CustomerContextAccessor, CustomerState
from state.documents import DocumentStore, StorageError
from state.memory_store import MemoryDocumentStore
from state.periodic import Periodic
from state.sqlite_store import SqliteDocumentStore
from state.storage_health import StorageHealth
from state.turn_state import TurnState
from state.wire import from_json
from troubleshooting.guides import load_guides
from webchat.embed import WebChatEmbed

log = logging.getLogger("bot")

# Activities are small; anything larger is not a channel talking to us.
MAX_ACTIVITY_BYTES = 256 * 1024
# An Adaptive Card submit is a few levels deep; hundreds would exhaust recursion later.
MAX_ACTIVITY_DEPTH = 32
HEALTH_CHECK_TIMEOUT = 2.0
# The update sender looks this often for due updates (it reads the store only when one
# may be due, or another instance may have added one), and gives one run this long.
UPDATE_SENDER_EVERY = 0.5
UPDATE_SENDER_DEADLINE = 120.0


class Resource(Protocol):
    """Something opened with the app and closed with it (a client, a file)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


@dataclass
class BotParts:
    bot: CustomerServiceBot
    conversation_state: ConversationState
    customer_state: CustomerState
    documents: DocumentStore
    orders: OrderService
    scheduling: SchedulingService
    identity: IdentityService
    storage_health: StorageHealth
    turn_state: TurnState
    events: StoredEventLog
    # Every new event goes here (the store, and Application Insights when configured);
    # None: events are off (ANALYTICS_EVENTS=false).
    record_event: Callable[[ConversationEvent], None] | None
    handoff: HandoffService
    teams_desk: TeamsDesk | None
    tickets: TicketService
    outbox: Outbox
    updates: Updates
    update_sender: UpdateSender
    resources: list[Resource] = field(default_factory=list)


BOT_PARTS = web.AppKey("bot_parts", BotParts)
ADAPTER = web.AppKey("adapter", LeanCloudAdapter)


def build_bot(
    settings: Settings, clock: Clock = system_clock, outbound: Outbound | None = None
) -> BotParts:
    """Everything a turn needs, without the HTTP host (the dialog tests use this too).
    `outbound` sends outside a turn (to agents, to a customer an agent answers)."""
    documents = document_store(settings)
    storage = BotStorage(
        documents, StateTtl(settings.CONVERSATION_STATE_TTL, settings.CUSTOMER_STATE_TTL)
    )
    conversation_state = ConversationState(storage)
    customer_state = CustomerState(storage)
    customer_contexts = CustomerContextAccessor(
        customer_state, PrivacyPolicy(settings.restricted_channels)
    )
    signing_key = settings.CUSTOMER_ID_SIGNING_KEY
    directory = DemoCustomerDirectory()
    identity = IdentityService(
        documents,
        directory,
        signing_key.get_secret_value() if signing_key else None,
        clock,
    )

    orders: OrderService
    resources: list[Resource] = [documents]
    if settings.ORDER_API_URL is None:
        orders = DemoOrderService(clock)
    else:
        api_key = settings.ORDER_API_KEY.get_secret_value() if settings.ORDER_API_KEY else None
        orders = HttpOrderService(str(settings.ORDER_API_URL), api_key)
        resources.append(orders)
    scheduling: SchedulingService
    if settings.SCHEDULING_API_URL is None:
        scheduling = DemoSchedulingService(documents, clock)
    else:
        scheduling = HttpSchedulingService(
            str(settings.SCHEDULING_API_URL), _secret(settings.SCHEDULING_API_KEY)
        )
        resources.append(scheduling)

    embedded = EmbeddedRecognizer.trained(cache_dir=settings.nlu_cache_dir)
    english: Recognizer = embedded
    if settings.NLU == "clu":
        clu = CluRecognizer(
            str(settings.CLU_ENDPOINT),
            _secret(settings.CLU_KEY),
            settings.CLU_PROJECT,
            settings.CLU_DEPLOYMENT,
            embedded,
            managed_identity_client_id=settings.AZURE_CLIENT_ID,
        )
        english = clu
        resources.append(clu)
    # English through CLU when it is on; the other languages through their own embedded one.
    recognizer = MultilingualRecognizer({
        language: english if language == "en"
        else EmbeddedRecognizer.trained(language, cache_dir=settings.nlu_cache_dir)
        for language in LANGUAGES
    })  # fmt: skip
    languages = LanguageDetector()
    translation = None
    if settings.TRANSLATOR_ENDPOINT is not None:
        translator = AzureTranslator(
            str(settings.TRANSLATOR_ENDPOINT),
            _secret(settings.TRANSLATOR_KEY),
            region=settings.TRANSLATOR_REGION,
            resource_id=settings.TRANSLATOR_RESOURCE_ID,
            managed_identity_client_id=settings.AZURE_CLIENT_ID,
            deadline=settings.TRANSLATOR_DEADLINE,
        )
        resources.append(translator)
        translation = TurnTranslation(translator, languages)
    privacy = PrivacyPolicy(settings.restricted_channels)
    events = StoredEventLog(documents, settings.ANALYTICS_RETENTION_DAYS, clock)
    resources.append(events)
    recorder = events.record
    if settings.APPLICATIONINSIGHTS_CONNECTION_STRING is not None:
        recorder = fan_out(events.record, AppInsightsEvents().record)
    if not settings.ANALYTICS_EVENTS:
        recorder = None
    outbound = outbound or NoChannels()
    teams_desk = TeamsDesk(documents, outbound) if settings.HANDOFF_DESK == "teams" else None
    desk: AgentDesk = teams_desk or ProtocolDesk(outbound)
    handoff = HandoffService(
        documents, desk, outbound, settings.business_hours, clock,
        max_wait=timedelta(seconds=settings.HANDOFF_MAX_WAIT_SECONDS),
        remind_after=timedelta(seconds=settings.HANDOFF_REMIND_AFTER_SECONDS),
        privacy=privacy, events=recorder,
    )  # fmt: skip
    tickets: TicketService = StoredTickets(documents)
    if settings.TICKET_WEBHOOK_URL is not None:
        tickets = WebhookTickets(
            documents, str(settings.TICKET_WEBHOOK_URL),
            _secret(settings.TICKET_WEBHOOK_SIGNING_KEY) or "",
        )  # fmt: skip
        resources.append(tickets)
    relay = HandoffRelay(handoff, conversation_state)
    outbox = Outbox(documents)
    updates = Updates(documents, outbox, clock)
    update_sender = UpdateSender(
        outbox, documents, outbound, scheduling, clock,
        quiet_hours=settings.quiet_hours, default_zone=settings.customer_time_zone,
        daily_limit=settings.UPDATES_PER_DAY,
    )  # fmt: skip
    booking = BookingDialog(scheduling, customer_contexts, clock, directory, updates)
    review = ReviewQueue(documents, settings.restricted_channels, settings.REVIEW_RETENTION_DAYS)
    not_understood = conversation_state.create_property("notUnderstood")
    frustration = FrustrationWatch(
        FrustrationScorer(),
        settings.FRUSTRATION_THRESHOLD,
        conversation_state.create_property("frustration"),
        not_understood,
    )
    dialog = MainDialog(
        recognizer,
        OrderStatusDialog(
            orders,
            customer_contexts,
            clock,
            conversation_state.create_property("orderMisses"),
            proof_required=settings.ORDER_PROOF_REQUIRED,
            updates=updates,
            updates_offer=conversation_state.create_property("updatesOffer"),
        ),
        booking,
        ChangeAppointmentDialog(scheduling, booking, clock),
        TroubleshootingDialog(load_guides(), booking, customer_contexts, clock),
        HandoffDialog(
            handoff,
            tickets,
            customer_contexts,
            relay.case_property,
            conversation_state.create_property("recentMessages"),
            clock,
            orders=orders,
            scheduling=scheduling,
            directory=directory,
        ),
        customer_contexts,
        identity,
        clock,
        not_understood,
        Thresholds(settings.NLU_CONFIDENCE_THRESHOLD, settings.NLU_AMBIGUITY_MARGIN),
        review,
        conversation_state.create_property("lastMessage"),
        events.forget,
        frustration,
    )
    # The customer's state first: see TurnState.
    storage_health = StorageHealth()
    turn_state = TurnState(
        storage,
        customer_state,
        conversation_state,
        health=storage_health,
        lease=settings.ACTIVITY_LEASE_SECONDS,
    )
    bot = CustomerServiceBot(
        turn_state,
        conversation_state,
        customer_contexts,
        identity,
        dialog,
        clock,
        settings.allowed_teams_tenants,
        relay,
        privacy,
        FeedbackCollector(conversation_state, review, clock),
        languages,
        translation,
    )
    return BotParts(
        bot,
        conversation_state,
        customer_state,
        documents,
        orders,
        scheduling,
        identity,
        storage_health,
        turn_state,
        events,
        recorder,
        handoff,
        teams_desk,
        tickets,
        outbox,
        updates,
        update_sender,
        resources,
    )


def document_store(settings: Settings) -> DocumentStore:
    if settings.STORAGE == "memory":
        return MemoryDocumentStore()
    if settings.STORAGE == "cosmos":
        key = settings.COSMOS_KEY.get_secret_value() if settings.COSMOS_KEY else None
        return CosmosDocumentStore(
            str(settings.COSMOS_ENDPOINT),
            key,
            settings.COSMOS_DATABASE,
            settings.COSMOS_CONTAINER,
            verify_tls=settings.COSMOS_VERIFY_TLS,
            create_container=settings.COSMOS_CREATE_CONTAINER,
            managed_identity_client_id=settings.AZURE_CLIENT_ID,
        )
    return SqliteDocumentStore(settings.DATA_DIR)


def create_app(settings: Settings, clock: Clock = system_clock) -> web.Application:
    tokens = None
    if settings.auth_enabled:
        tokens = ChannelTokenValidator(
            settings.MicrosoftAppId,
            settings.MicrosoftAppTenantId,
            str(settings.CHANNEL_OPENID_METADATA_URL),
            str(settings.EMULATOR_OPENID_METADATA_URL),
        )
    authentication = ChannelAuthentication(settings, tokens)
    adapter = LeanCloudAdapter(authentication)
    parts = build_bot(
        settings, clock, ChannelOutbound(adapter, authentication, settings.MicrosoftAppId)
    )
    adapter.on_turn_error = turn_error_handler(parts.conversation_state, parts.storage_health)
    if parts.record_event is not None:
        adapter.use(AnalyticsMiddleware(parts.record_event, clock))
    adapter.use(
        AgentDeskMiddleware(
            parts.handoff,
            parts.teams_desk,
            AgentPolicy(settings.handoff_agent_ids, settings.HANDOFF_TEAM_ID),
            parts.turn_state,
        )
    )

    app = web.Application(client_max_size=MAX_ACTIVITY_BYTES, middlewares=[_json_errors])
    app[BOT_PARTS] = parts
    app[ADAPTER] = adapter
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    AnalyticsApi(parts.events, _secret(settings.ANALYTICS_API_KEY), clock).add_routes(app)
    OrderEventsApi(parts.updates, _secret(settings.ORDER_EVENTS_SIGNING_KEY), clock).add_routes(app)
    resources: list[Resource] = [
        adapter, *parts.resources, handoff_timer(parts.handoff),
        Periodic("update sender", UPDATE_SENDER_EVERY, parts.update_sender.tick,
                 UPDATE_SENDER_DEADLINE),
    ]  # fmt: skip
    if tokens is not None:
        resources.append(tokens)
    direct_line = None
    if settings.DIRECT_LINE_SECRET is None:
        log.info("web chat (/chat) is off: DIRECT_LINE_SECRET is not set (make webchat tries it)")
    else:
        direct_line = DirectLineTokens(
            str(settings.DIRECT_LINE_ENDPOINT), settings.DIRECT_LINE_SECRET.get_secret_value()
        )
        resources.append(direct_line)
    WebChatEmbed(
        direct_line,
        direct_line_endpoint=str(settings.DIRECT_LINE_ENDPOINT),
        allowed_origins=settings.allowed_origins,
        site_signing_key=_secret(settings.SITE_SIGNING_KEY),
        customer_id_signing_key=_secret(settings.CUSTOMER_ID_SIGNING_KEY),
        bundle_url=settings.WEBCHAT_BUNDLE_URL,
        bundle_file=settings.WEBCHAT_BUNDLE_FILE,
        rate_limit=settings.TOKEN_RATE_LIMIT,
        trusted_proxy_hops=settings.TRUSTED_PROXY_HOPS,
    ).add_routes(app)
    app.cleanup_ctx.append(_opened(resources))
    return app


async def settle_heap(_: web.Application) -> None:
    """What start-up built (trained models, catalogs, recognisers: 215,000 objects) lives as
    long as the process. Frozen, the collector no longer walks it at every full collection:
    those took 270 ms each, every few hundred turns (measured under `make bench`)."""
    gc.collect()
    gc.freeze()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _opened(resources: list[Resource]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        opened: list[Resource] = []
        try:
            for resource in resources:
                await resource.open()
                opened.append(resource)
            yield
        finally:
            for resource in reversed(opened):
                await resource.close()

    return lifetime


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages: one activity from a channel. Bad requests never reach the bot."""
    if request.content_type != "application/json":
        return _error(415, "Content-Type must be application/json")
    if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
        return _error(413, f"an activity may be at most {MAX_ACTIVITY_BYTES} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"an activity may be at most {MAX_ACTIVITY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not JSON")
    except RecursionError:
        return _error(400, f"the activity is nested more than {MAX_ACTIVITY_DEPTH} levels deep")
    if _nested_deeper_than(payload, MAX_ACTIVITY_DEPTH):
        return _error(400, f"the activity is nested more than {MAX_ACTIVITY_DEPTH} levels deep")
    problem = _activity_problem(payload)
    if problem:
        return _error(400, problem)
    try:
        activity = from_json(Activity, payload)
    except (ValueError, TypeError, AttributeError):
        return _error(400, "the body is not a Bot Framework activity")

    parts = request.app[BOT_PARTS]
    try:
        invoke_response = await request.app[ADAPTER].process_activity(
            request.headers.get("Authorization", ""), activity, parts.bot.on_turn
        )
    except PermissionError:
        return _error(401, "the request is not authorized for this bot")
    if invoke_response and invoke_response.body is None:
        return web.Response(status=invoke_response.status)
    if invoke_response:
        return web.json_response(
            serializer_helper(invoke_response.body), status=invoke_response.status
        )
    return web.Response(status=201)


def _nested_deeper_than(payload: object, limit: int) -> bool:
    """Iterative, so a hostile depth cannot overflow the check itself."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _activity_problem(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return "the body must be a JSON object (an activity)"
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        return "the activity has no type"
    conversation = payload.get("conversation")
    if (
        not isinstance(conversation, dict)
        or not isinstance(conversation.get("id"), str)
        or not (conversation["id"])
    ):
        return "the activity has no conversation.id"
    for name in ("from", "recipient"):
        account = payload.get(name)
        if account is not None and (
            not isinstance(account, dict) or not isinstance(account.get("id", ""), str)
        ):
            return f"the activity's {name} is not a channel account"
    if not isinstance(payload.get("serviceUrl"), str) or not payload["serviceUrl"]:
        return "the activity has no serviceUrl"
    if not isinstance(payload.get("channelId"), str) or not payload["channelId"]:
        return "the activity has no channelId"
    sender = payload.get("from")
    if payload["type"] == "message" and (not isinstance(sender, dict) or not sender.get("id")):
        # State is kept per sender: a message from nobody cannot be answered.
        return "the message has no from.id"
    return None


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 200 when a turn can be served, 503 naming the part that cannot."""
    parts = request.app[BOT_PARTS]
    try:
        await asyncio.wait_for(parts.documents.check(), HEALTH_CHECK_TIMEOUT)
    except (StorageError, TimeoutError) as error:
        log.warning("health check: storage unreachable: %s", error)
        return web.json_response({"status": "unavailable", "storage": "unreachable"}, status=503)
    if parts.storage_health.failing:
        log.warning("health check: the last turns could not save their state")
        return web.json_response({"status": "unavailable", "storage": "failing"}, status=503)
    return web.json_response({"status": "ok", "storage": "ok"})


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error answer is short JSON; an unexpected error is logged, never shown."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.status, error.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal error")


def start_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(NotCustomEvents())
    if settings.APPLICATIONINSIGHTS_CONNECTION_STRING is not None:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get_secret_value()
        )


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        sys.exit(2)


async def gunicorn_app() -> web.Application:
    """Azure App Service's start command:
    gunicorn app:gunicorn_app --bind 0.0.0.0:8000 --worker-class aiohttp.GunicornWebWorker"""
    settings = _settings_or_exit()
    if not settings.auth_enabled and not settings.ALLOW_UNAUTHENTICATED:
        # gunicorn binds every interface (0.0.0.0 on App Service), whatever HOST says.
        print(
            "Cannot start: set MicrosoftAppId (and its password), or ALLOW_UNAUTHENTICATED=true:"
            " served by gunicorn with auth off, anyone may post as any channel",
            file=sys.stderr,
        )
        sys.exit(2)
    start_logging(settings)
    return create_app(settings)


def main() -> None:
    serve(_settings_or_exit())


def serve(settings: Settings, also: str = "") -> None:
    """Serves the bot until Ctrl+C, after a banner that says where and how to talk to it."""
    start_logging(settings)
    host = "localhost" if settings.on_loopback else settings.HOST
    base = f"http://{host}:{settings.PORT}"
    endpoint = f"{base}/api/messages"

    if settings.auth_enabled:
        auth = (
            f"Auth is ON: only activities with a channel token for app {settings.MicrosoftAppId}"
            f" are served.\n  In the Emulator, give this app id and its password."
        )
    else:
        auth = (
            "Auth is OFF (MicrosoftAppId is empty): anyone who reaches this address may post."
            "\n  In the Emulator, leave the app id and password empty."
        )

    def announce(_: str) -> None:
        print(
            f"The bot is listening at {endpoint}\n"
            f"{also.format(base=base)}"
            f"  Talk to it:  make chat   (in another terminal)\n"
            f"  or open the Bot Framework Emulator and connect to {endpoint}\n"
            f"{auth}\n"
            f"Stop with Ctrl+C.",
            flush=True,
        )

    try:
        app = create_app(settings)
        # Last at start-up, and only for a process that is the bot (not a test's bots).
        app.on_startup.append(settle_heap)
        web.run_app(app, host=settings.HOST, port=settings.PORT, print=announce)
    except StorageError as error:
        print(f"Cannot start: state storage: {error} (check STORAGE and DATA_DIR)", file=sys.stderr)
        sys.exit(1)
    except TrainingDataError as error:
        print(f"Cannot start: language understanding's training data: {error}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:
        print(
            f"Cannot start on {settings.HOST}:{settings.PORT}: {error} (set PORT or HOST)",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
