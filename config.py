"""Settings: every setting the bot reads, named once, here.

Values come from the environment and an optional `.env` file. The names are the
ones an operator sets (App Service application settings, `.env`), so the same
name is used in code, templates and docs. Bad values stop the process at start
with a message that names the variable to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handoff.hours import ALWAYS as ALWAYS_OPEN
from handoff.hours import BusinessHours
from notifications.quiet_hours import QuietHours

APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# A key that checks signatures the bot receives: long enough that it cannot be guessed
# from a captured request.
MIN_SIGNING_KEY = 32


# App Service's own settings, which the deployment templates also write; the bot does not read
# them (a test checks the templates write nothing else that config.py does not define).
PLATFORM_SETTINGS = frozenset({"SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITES_PORT"})


class ConfigError(Exception):
    """The configuration cannot run; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        extra="ignore",
        frozen=True,
    )

    PORT: int = Field(3978, ge=1, le=65535)
    HOST: str = "127.0.0.1"

    # Bot Framework authentication. An empty app id turns auth off (local runs, Emulator).
    MicrosoftAppId: str = ""
    MicrosoftAppPassword: SecretStr = SecretStr("")
    MicrosoftAppType: str = "MultiTenant"
    MicrosoftAppTenantId: str = ""
    # With auth off anyone who can reach the bot may post as any channel and make it post
    # anywhere: allowed on loopback only, unless this says otherwise (e.g. behind a gateway
    # that authenticates).
    ALLOW_UNAUTHENTICATED: bool = False

    # Where the signing keys of channel and Emulator tokens are published (public Azure).
    CHANNEL_OPENID_METADATA_URL: AnyHttpUrl = AnyHttpUrl(
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    EMULATOR_OPENID_METADATA_URL: AnyHttpUrl = AnyHttpUrl(
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    )

    STORAGE: Literal["sqlite", "memory", "cosmos"] = "sqlite"
    DATA_DIR: Path = Path("./data")
    # Trained intent models, by the training data's hash; unset: DATA_DIR/nlu-cache.
    NLU_CACHE_DIR: Path | None = None

    # STORAGE=cosmos. Without COSMOS_KEY the bot signs in with its managed identity.
    COSMOS_ENDPOINT: AnyHttpUrl | None = None
    COSMOS_KEY: SecretStr | None = None
    # The client id of the user-assigned managed identity to sign in with (set by the deployment).
    AZURE_CLIENT_ID: str = ""
    COSMOS_DATABASE: str = Field("bot", min_length=1)
    COSMOS_CONTAINER: str = Field("state", min_length=1)
    # Only a local emulator has a self-signed certificate.
    COSMOS_VERIFY_TLS: bool = True
    # Containers come from the deployment templates (serverless accounts cannot take a
    # throughput on creation); true creates database and container at start, for local runs.
    COSMOS_CREATE_CONTAINER: bool = False

    # Seconds until untouched state is forgotten (0: kept for ever). A conversation's dialog
    # state is short-lived; what the bot remembers about a customer lives longer.
    CONVERSATION_STATE_TTL: int = Field(7 * 24 * 3600, ge=0)
    CUSTOMER_STATE_TTL: int = Field(365 * 24 * 3600, ge=0)

    # Seconds a turn holds its activity: a redelivery after a crash is answered once this has
    # passed, a redelivery during a live turn is not. Keep it under Teams' 15 s redelivery.
    ACTIVITY_LEASE_SECONDS: float = Field(12.0, gt=0, le=14)

    ORDER_API_URL: AnyHttpUrl | None = None
    ORDER_API_KEY: SecretStr | None = None
    SCHEDULING_API_URL: AnyHttpUrl | None = None
    SCHEDULING_API_KEY: SecretStr | None = None
    # true: before an order's details are shown, the customer gives the email or postcode on
    # it (once per order). false: the order number alone is enough (see README).
    ORDER_PROOF_REQUIRED: bool = False

    # Language understanding: the embedded recogniser (trained from nlu/data at start), or
    # Azure AI Language CLU with the embedded one as its fallback.
    NLU: Literal["embedded", "clu"] = "embedded"
    CLU_ENDPOINT: AnyHttpUrl | None = None
    # Unset: the bot signs in to CLU with its managed identity (AZURE_CLIENT_ID).
    CLU_KEY: SecretStr | None = None
    CLU_PROJECT: str = ""
    CLU_DEPLOYMENT: str = ""
    # Below this confidence the bot says what it can do instead of
    # guessing; two tasks closer than the margin make it ask which one (README: chosen from
    # the held-out evaluation).
    NLU_CONFIDENCE_THRESHOLD: float = Field(0.3, ge=0, le=1)
    NLU_AMBIGUITY_MARGIN: float = Field(0.1, ge=0, le=1)

    # Azure AI Translator for customers who write in another language than the four the bot
    # speaks. Unset: off. https://api.cognitive.microsofttranslator.com (global) or a
    # resource's own https://<name>.cognitiveservices.azure.com.
    TRANSLATOR_ENDPOINT: AnyHttpUrl | None = None
    # Unset: the bot signs in with its managed identity (AZURE_CLIENT_ID), which then needs
    # TRANSLATOR_RESOURCE_ID with TRANSLATOR_REGION, or the resource's own endpoint.
    TRANSLATOR_KEY: SecretStr | None = None
    # The resource's region (a regional or multi-service resource: "westeurope").
    TRANSLATOR_REGION: str = ""
    # The resource's Azure id (managed identity with a regional resource).
    TRANSLATOR_RESOURCE_ID: str = ""
    # Seconds a message's translation may take, retry included; then the bot answers in
    # English with an apology.
    TRANSLATOR_DEADLINE: float = Field(2.0, gt=0, le=10)

    # How upset a message must sound before the bot apologises and offers a person, once per
    # task (nlu/frustration.py; README "Languages": chosen on nlu/data/frustration.jsonl).
    FRUSTRATION_THRESHOLD: float = Field(2.0, gt=0, le=20)

    # Teams tenants (directory ids, comma-separated) whose users may talk to the bot; empty: all.
    TEAMS_ALLOWED_TENANTS: str = ""

    # Channels from which only identifiers and task state are stored about a customer
    # (comma-separated channel ids, e.g. "facebook,sms"); empty: no channel is restricted.
    RESTRICTED_CHANNELS: str = ""
    # Signs the customer id in Direct Line user ids the bot's token endpoint issues
    # (dl_<customer id>.<signature>); unset: every Direct Line user is anonymous until linked.
    CUSTOMER_ID_SIGNING_KEY: SecretStr | None = None

    # The web chat embed (/chat, /api/directline/token). Without the secret the page says
    # the chat is unavailable.
    DIRECT_LINE_SECRET: SecretStr | None = None
    DIRECT_LINE_ENDPOINT: AnyHttpUrl = AnyHttpUrl("https://directline.botframework.com")
    # Sites (scheme://host[:port], comma-separated) whose pages may ask for a token.
    ALLOWED_ORIGINS: str = ""
    # Verifies the customer ids a company's site signs for its signed-in customers.
    SITE_SIGNING_KEY: SecretStr | None = None
    WEBCHAT_BUNDLE_URL: str = "https://cdn.botframework.com/botframework-webchat/4.18.1/webchat.js"
    # A Web Chat bundle on disk that /chat serves itself (make webchat: offline); unset: the URL.
    WEBCHAT_BUNDLE_FILE: Path | None = None
    # Token requests allowed per client, e.g. "10/minute".
    TOKEN_RATE_LIMIT: str = "10/minute"
    # Reverse proxies in front of the bot that append the address they saw to X-Forwarded-For
    # (App Service's front end: 1). 0 trusts no X-Forwarded-For: the client is the peer address.
    TRUSTED_PROXY_HOPS: int = Field(0, ge=0, le=5)

    # Talking to a person. The agents' desk: Teams (a channel in the agents' team, named by
    # an agent with /desk here), or a contact center speaking the Bot Framework hand-off
    # protocol (handoff.initiate / handoff.status).
    HANDOFF_DESK: Literal["teams", "protocol"] = "teams"
    # Who may work cases in Teams: Entra object ids (comma-separated), or one team's id.
    HANDOFF_AGENT_IDS: str = ""
    HANDOFF_TEAM_ID: str = ""
    # When people are there, in HANDOFF_TIME_ZONE: e.g. "mon-fri 09:00-17:30; sat 10:00-14:00";
    # holidays as dates, comma-separated. Outside them the customer is offered to leave a note.
    HANDOFF_HOURS: str = ALWAYS_OPEN
    HANDOFF_TIME_ZONE: str = "UTC"
    HANDOFF_HOLIDAYS: str = ""
    # Seconds a customer waits before the agents are reminded, and before being offered to
    # leave a note instead.
    HANDOFF_REMIND_AFTER_SECONDS: int = Field(180, ge=10)
    HANDOFF_MAX_WAIT_SECONDS: int = Field(600, ge=30)
    # Notes customers leave are kept in the bot's store; with this URL each is also posted,
    # signed with TICKET_WEBHOOK_SIGNING_KEY, to the company's ticketing system.
    TICKET_WEBHOOK_URL: AnyHttpUrl | None = None
    TICKET_WEBHOOK_SIGNING_KEY: SecretStr | None = None

    # Days conversation events are kept for the analytics (0: kept until deleted).
    ANALYTICS_RETENTION_DAYS: int = Field(90, ge=0, le=3650)
    # Days the messages not understood (and "not helpful" reasons) are kept, masked, for review.
    REVIEW_RETENTION_DAYS: int = Field(30, ge=1, le=365)
    # false: no conversation events are recorded (the metrics and the report stay empty).
    ANALYTICS_EVENTS: bool = True
    # The key GET /api/analytics asks for (X-API-Key); unset: the route is off.
    ANALYTICS_API_KEY: SecretStr | None = None

    # Telling customers first. The order system signs each POST /api/order-events with this
    # key (at least 32 characters); unset: the route is off.
    ORDER_EVENTS_SIGNING_KEY: SecretStr | None = None
    # Updates wait for the end of these hours in the customer's time zone ("" for none).
    QUIET_HOURS: str = "21:00-08:00"
    # The time zone taken for a customer whose channel never gave theirs (Messenger does not).
    CUSTOMER_TIME_ZONE: str = "UTC"
    # Updates one customer gets in a day at most; more wait for the next day.
    UPDATES_PER_DAY: int = Field(5, ge=1, le=50)

    # Set by the deployment: logs and requests go to Application Insights.
    APPLICATIONINSIGHTS_CONNECTION_STRING: SecretStr | None = None

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("MicrosoftAppType")
    @classmethod
    def _known_app_type(cls, value: str) -> str:
        # botbuilder compares case-insensitively; keep the canonical spelling.
        for app_type in APP_TYPES:
            if value.strip().lower() == app_type.lower():
                return app_type
        raise ValueError(f"must be one of {', '.join(APP_TYPES)}")

    @field_validator(
        "ORDER_API_URL",
        "ORDER_API_KEY",
        "SCHEDULING_API_URL",
        "SCHEDULING_API_KEY",
        "NLU_CACHE_DIR",
        "COSMOS_ENDPOINT",
        "COSMOS_KEY",
        "WEBCHAT_BUNDLE_FILE",
        "CLU_ENDPOINT",
        "CLU_KEY",
        "TRANSLATOR_ENDPOINT",
        "TRANSLATOR_KEY",
        "TICKET_WEBHOOK_URL",
        "TICKET_WEBHOOK_SIGNING_KEY",
        "ANALYTICS_API_KEY",
        "ORDER_EVENTS_SIGNING_KEY",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("WEBCHAT_BUNDLE_FILE")
    @classmethod
    def _bundle_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no file at {value} (run make webchat, or leave it unset)")
        return value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("TOKEN_RATE_LIMIT")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError('must look like "10/minute" or "100/hour"') from None
        return value

    @model_validator(mode="after")
    def _business_hours(self) -> Settings:
        try:
            BusinessHours.parse(self.HANDOFF_HOURS, self.HANDOFF_TIME_ZONE, self.HANDOFF_HOLIDAYS)
        except ValueError as error:
            raise ValueError(
                f"HANDOFF_HOURS, HANDOFF_TIME_ZONE or HANDOFF_HOLIDAYS: {error}"
            ) from None
        return self

    @field_validator("ORDER_EVENTS_SIGNING_KEY")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SIGNING_KEY:
            raise ValueError(
                f"must be at least {MIN_SIGNING_KEY} characters (e.g. openssl rand -hex 32)"
            )
        return value

    @field_validator("QUIET_HOURS")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("CUSTOMER_TIME_ZONE")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _ticket_webhook_is_signed(self) -> Settings:
        if self.TICKET_WEBHOOK_URL is not None and self.TICKET_WEBHOOK_SIGNING_KEY is None:
            raise ValueError(
                "set TICKET_WEBHOOK_SIGNING_KEY: TICKET_WEBHOOK_URL's receiver needs it to "
                "check each ticket came from the bot"
            )
        return self

    @model_validator(mode="after")
    def _signing_is_complete(self) -> Settings:
        if self.SITE_SIGNING_KEY is not None and self.CUSTOMER_ID_SIGNING_KEY is None:
            raise ValueError(
                "set CUSTOMER_ID_SIGNING_KEY: SITE_SIGNING_KEY needs it to sign the ids it issues"
            )
        return self

    @model_validator(mode="after")
    def _clu_is_complete(self) -> Settings:
        if self.NLU == "clu":
            missing = [name for name, value in (("CLU_ENDPOINT", self.CLU_ENDPOINT),
                       ("CLU_PROJECT", self.CLU_PROJECT), ("CLU_DEPLOYMENT", self.CLU_DEPLOYMENT))
                       if not value]  # fmt: skip
            if missing:
                raise ValueError(f"set {' and '.join(missing)}: NLU=clu needs them")
        return self

    @model_validator(mode="after")
    def _translator_is_complete(self) -> Settings:
        if self.TRANSLATOR_ENDPOINT is None or self.TRANSLATOR_KEY is not None:
            return self
        if self.TRANSLATOR_REGION and not self.TRANSLATOR_RESOURCE_ID:
            raise ValueError(
                "set TRANSLATOR_RESOURCE_ID: without TRANSLATOR_KEY, a regional Translator "
                "resource is signed in to with the managed identity and its resource id"
            )
        if self.TRANSLATOR_RESOURCE_ID and not self.TRANSLATOR_REGION:
            raise ValueError("set TRANSLATOR_REGION: TRANSLATOR_RESOURCE_ID needs the region")
        return self

    @model_validator(mode="after")
    def _cosmos_is_complete(self) -> Settings:
        if self.STORAGE == "cosmos" and self.COSMOS_ENDPOINT is None:
            raise ValueError("set COSMOS_ENDPOINT: STORAGE=cosmos needs the account's endpoint")
        return self

    @model_validator(mode="after")
    def _no_open_bot(self) -> Settings:
        if not self.auth_enabled and not self.ALLOW_UNAUTHENTICATED and not self.on_loopback:
            raise ValueError(
                f"set MicrosoftAppId (and its password), or ALLOW_UNAUTHENTICATED=true: "
                f"HOST={self.HOST} with auth off lets anyone on the network post as any channel"
            )
        return self

    @property
    def on_loopback(self) -> bool:
        return self.HOST in LOOPBACK_HOSTS

    @model_validator(mode="after")
    def _auth_is_complete(self) -> Settings:
        needs: list[str] = []
        password = self.MicrosoftAppPassword.get_secret_value()
        if self.MicrosoftAppType == "SingleTenant":
            needs = [
                n
                for n, v in (
                    ("MicrosoftAppId", self.MicrosoftAppId),
                    ("MicrosoftAppPassword", password),
                    ("MicrosoftAppTenantId", self.MicrosoftAppTenantId),
                )
                if not v
            ]
        elif self.MicrosoftAppType == "UserAssignedMSI":
            needs = [
                n
                for n, v in (
                    ("MicrosoftAppId", self.MicrosoftAppId),
                    ("MicrosoftAppTenantId", self.MicrosoftAppTenantId),
                )
                if not v
            ]
        elif self.MicrosoftAppId and not password:
            needs = ["MicrosoftAppPassword"]
        elif password and not self.MicrosoftAppId:
            needs = ["MicrosoftAppId"]
        if needs:
            raise ValueError(
                f"set {' and '.join(needs)}: MicrosoftAppType={self.MicrosoftAppType} "
                f"with MicrosoftAppId={self.MicrosoftAppId or '(empty)'} needs it"
            )
        return self

    # The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads.
    @property
    def APP_ID(self) -> str:
        return self.MicrosoftAppId

    @property
    def APP_PASSWORD(self) -> str:
        return self.MicrosoftAppPassword.get_secret_value()

    @property
    def APP_TYPE(self) -> str:
        return self.MicrosoftAppType

    @property
    def APP_TENANTID(self) -> str:
        return self.MicrosoftAppTenantId

    @property
    def nlu_cache_dir(self) -> Path:
        return self.NLU_CACHE_DIR or self.DATA_DIR / "nlu-cache"

    @property
    def business_hours(self) -> BusinessHours:
        return BusinessHours.parse(
            self.HANDOFF_HOURS, self.HANDOFF_TIME_ZONE, self.HANDOFF_HOLIDAYS
        )

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours.parse(self.QUIET_HOURS)

    @property
    def customer_time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.CUSTOMER_TIME_ZONE)

    @property
    def handoff_agent_ids(self) -> frozenset[str]:
        return _names(self.HANDOFF_AGENT_IDS)

    @property
    def restricted_channels(self) -> frozenset[str]:
        return _names(self.RESTRICTED_CHANNELS)

    @property
    def allowed_origins(self) -> frozenset[str]:
        return _names(self.ALLOWED_ORIGINS)

    @property
    def allowed_teams_tenants(self) -> frozenset[str]:
        return _names(self.TEAMS_ALLOWED_TENANTS)

    @property
    def auth_enabled(self) -> bool:
        return bool(self.MicrosoftAppId)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Settings:
        """Settings from these values only (no environment, no `.env`): for tests and tools."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Settings from the environment and `env_file`; raises ConfigError naming what to set."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def _names(listed: str) -> frozenset[str]:
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "Invalid configuration: " + "; ".join(problems)
