"""Conversation events as Application Insights custom events, when the bot reports there.

Azure Monitor's OpenTelemetry exporter turns a log record carrying the attribute
`microsoft.custom_event.name` into a custom event (table `customEvents`), its other
attributes into `customDimensions`. The names and properties are the ones the bot's own
store keeps, so the workbook's queries and `make report` count the same things.
"""

from __future__ import annotations

import logging

from analytics.events import ConversationEvent

EVENT_NAME_ATTRIBUTE = "microsoft.custom_event.name"
log = logging.getLogger("analytics.custom_events")


class AppInsightsEvents:
    def record(self, event: ConversationEvent) -> None:
        attributes = {
            EVENT_NAME_ATTRIBUTE: event.name.value,
            "channel": event.channel,
            "customer": event.customer,
            "conversation": event.conversation,
            **({"task": event.task} if event.task else {}),
            **{name: value for name, value in event.props.items() if value is not None},
        }
        log.info(event.name.value, extra=attributes)


class NotCustomEvents(logging.Filter):
    """Keeps custom events off the console: they are for Application Insights."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not hasattr(record, EVENT_NAME_ATTRIBUTE)


def fan_out(*sinks):
    """One recorder that gives each event to every sink; a sink's failure is only logged."""

    def record(event: ConversationEvent) -> None:
        for sink in sinks:
            try:
                sink(event)
            except Exception:  # a sink must never fail a turn
                logging.getLogger(__name__).exception("an analytics sink failed")

    return record
