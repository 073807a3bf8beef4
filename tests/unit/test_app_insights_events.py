"""Conversation events reach Application Insights as custom events with their properties,
through the real Azure Monitor exporter's conversion (no network)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from azure.monitor.opentelemetry.exporter.export.logs._exporter import _convert_log_to_envelope
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from analytics.app_insights import AppInsightsEvents, NotCustomEvents, fan_out
from analytics.events import ConversationEvent, EventName

EVENT = ConversationEvent(
    EventName.TASK_COMPLETED, datetime(2026, 11, 24, 10, tzinfo=UTC), "webchat", "a1b2",
    "c3d4", "orderStatus", {"outcome": "answered", "confidence": 0.93},
)  # fmt: skip


def test_an_event_becomes_a_custom_event_with_its_dimensions() -> None:
    exported = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exported))
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.getLogger("analytics.custom_events")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        AppInsightsEvents().record(EVENT)
    finally:
        logger.removeHandler(handler)
    (log_data,) = exported.get_finished_logs()
    envelope = _convert_log_to_envelope(log_data)
    assert envelope.name == "Microsoft.ApplicationInsights.Event"
    assert envelope.data.base_data.name == "taskCompleted"
    properties = envelope.data.base_data.properties
    assert {k: properties[k] for k in ("channel", "customer", "conversation", "task")} == {
        "channel": "webchat", "customer": "a1b2", "conversation": "c3d4", "task": "orderStatus",
    }  # fmt: skip


def test_what_an_event_does_not_have_is_left_out(caplog) -> None:
    caplog.set_level(logging.INFO)
    no_task = ConversationEvent(
        EventName.FEEDBACK, datetime(2026, 11, 24, 10, tzinfo=UTC), "msteams", "a1b2", "c3d4",
        None, {"helpful": False, "comment": None},
    )  # fmt: skip
    AppInsightsEvents().record(no_task)
    (record,) = [r for r in caplog.records if r.name == "analytics.custom_events"]
    assert record.getMessage() == "feedback"
    assert record.helpful is False and not hasattr(record, "comment")
    assert not hasattr(record, "task")
    assert (record.channel, record.customer, record.conversation) == ("msteams", "a1b2", "c3d4")


def test_custom_events_stay_off_the_console(caplog) -> None:
    caplog.set_level(logging.INFO)
    AppInsightsEvents().record(EVENT)
    (record,) = [r for r in caplog.records if r.name == "analytics.custom_events"]
    assert not NotCustomEvents().filter(record)
    assert NotCustomEvents().filter(logging.LogRecord("x", logging.INFO, "", 0, "m", (), None))


def test_a_failing_sink_does_not_stop_the_others() -> None:
    kept: list[ConversationEvent] = []

    def broken(_: ConversationEvent) -> None:
        raise RuntimeError("exporter down")

    fan_out(broken, kept.append)(EVENT)
    assert kept == [EVENT]


def test_a_failing_sink_is_logged_with_its_traceback(caplog) -> None:
    def broken(_: ConversationEvent) -> None:
        raise RuntimeError("exporter down")

    caplog.set_level(logging.ERROR, "analytics.app_insights")
    fan_out(broken)(EVENT)
    (record,) = [r for r in caplog.records if r.name == "analytics.app_insights"]
    assert record.getMessage() == "an analytics sink failed" and record.exc_info
