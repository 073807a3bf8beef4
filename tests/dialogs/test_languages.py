"""Dialog ring: the order status, a booking and a troubleshooting guide, each entirely in
Spanish, German and French: the customer writes in the language, taps the buttons the bot
shows in it, and reads every answer in it, dates and times included.

The clock is Tuesday 24 November 2026, 10:00 UTC (London); demo order 123456 is out for
delivery, three hours away.
"""

from __future__ import annotations

import pytest
from botbuilder.schema import Activity, ActivityTypes

from bots.analytics_middleware import AnalyticsMiddleware
from channels import replies
from channels.text import known, localize
from tests.conftest import NOW
from tests.dialogs.test_booking import choices_in, say
from tests.dialogs.test_order_status import Customer
from troubleshooting.guides import load_guides

ROUTER = load_guides()["router"]

# Each language on a channel of its own: Web Chat, Teams and Messenger.
CHANNEL = {"es": "webchat", "de": "msteams", "fr": "facebook"}

ORDER_STATUS = {
    "es": (
        "¿dónde está mi pedido?",
        "¿Me das tu número de pedido?",
        "Tu pedido 123456 está en reparto y se espera hoy a las 13:00.",
    ),
    "de": (
        "Wo ist meine Bestellung?",
        "Wie lautet Ihre Bestellnummer?",
        "Ihre Bestellung 123456 ist in der Zustellung und wird heute um 13 Uhr erwartet.",
    ),
    "fr": (
        "Où est ma commande ?",
        "Pouvez-vous me donner votre numéro de commande\u00a0?",
        "Votre commande 123456 est en cours de livraison et prévue aujourd'hui à 13h.",
    ),
}


@pytest.mark.parametrize("language", sorted(ORDER_STATUS))
async def test_order_status(language: str) -> None:
    customer = Customer(CHANNEL[language])
    question, ask_number, status = ORDER_STATUS[language]
    assert await say(customer, question) == [ask_number]
    assert await say(customer, "123456") == [status]
    assert (await customer.stored_context())["preferences"]["language"] == language


BOOKING = {
    # What the customer writes, the kind's button, the store, when, then the slot's button.
    "es": (
        "quiero pedir cita para una reparación",
        "Oxford Street",
        "el viernes a las 3",
        "vie. 27 nov., 15:00",
        "sí",
        "¿Reservo una reparación en tienda en Oxford Street el vie. 27 nov., 15:00?",
        "Reservado: una reparación en tienda en Oxford Street el vie. 27 nov., 15:00.",
    ),
    "de": (
        "Ich möchte einen Termin für eine Reparatur buchen",
        "Oxford Street",
        "Freitag um 15 Uhr",
        "Fr., 27. Nov., 15:00",
        "ja",
        "Soll ich eine Reparatur im Geschäft in der Filiale Oxford Street am Fr., 27. Nov., "
        "15:00 buchen?",
        "Gebucht: Ich habe eine Reparatur im Geschäft in der Filiale Oxford Street am Fr., 27. "
        "Nov., 15:00 für Sie eingetragen.",
    ),
    "fr": (
        "je voudrais prendre rendez-vous pour une réparation",
        "Oxford Street",
        "vendredi à 15h",
        "ven. 27 nov., 15h00",
        "oui",
        "Je réserve une réparation en magasin au magasin Oxford Street le ven. 27 nov., "
        "15h00\u00a0?",
        "Réservé\u00a0: une réparation en magasin au magasin Oxford Street le ven. 27 nov., 15h00.",
    ),
}


@pytest.mark.parametrize("language", sorted(BOOKING))
async def test_booking(language: str) -> None:
    customer = Customer(CHANNEL[language])
    opener, store, when, slot, yes, confirm, booked = BOOKING[language]
    assert await say(customer, opener) == [localize(replies.ask_store(()).text, language)]
    assert await say(customer, store) == [localize(replies.ASK_WHEN.text, language)]
    offered = await send_text(customer, when)
    assert slot in choices_in(offered)
    assert await say(customer, slot) == [confirm]
    (done,) = await say(customer, yes)
    assert done.startswith(booked), done
    assert localize(replies.REMINDER_NOTE, language) in done or "AP-" in done


TROUBLESHOOTING = {
    "es": ("el wifi se me corta todo el rato", "no", "sí"),
    "de": ("mein WLAN bricht ständig ab", "nein", "ja"),
    "fr": ("mon wifi n'arrête pas de couper", "non", "oui"),
}


@pytest.mark.parametrize("language", sorted(TROUBLESHOOTING))
async def test_troubleshooting_guide(language: str) -> None:
    """The router guide: restart (no), the lights (no: only one device?), one device (yes),
    forget the network (yes): fixed. Every step and answer in the customer's language."""
    customer = Customer(CHANNEL[language])
    opener, no, yes = TROUBLESHOOTING[language]
    steps = ROUTER.steps
    first = await send_text(customer, opener)
    assert [a.text.split("\n")[0] for a in first if a.text] == [
        localize(known(steps["restart"].say), language)
    ]
    assert localize(replies.YES_NO[0], language) in choices_in(first)
    for answer, step in ((no, "lights"), (no, "one-device"), (yes, "forget-network")):
        shown = await say(customer, answer)
        assert shown == [localize(known(steps[step].say), language)], shown
    assert await say(customer, yes) == [localize(replies.FIXED.text, language)]
    record = (await customer.stored_context())["troubleshooting"][-1]
    assert record["outcome"] == "fixed"


async def send_text(customer: Customer, text: str) -> list[Activity]:
    return await customer.send(Activity(type=ActivityTypes.message, text=text))


@pytest.mark.parametrize("language", ["es", "de", "fr"])
async def test_every_answer_differs_from_english(language: str) -> None:
    """The catalogs are used: the same question gets a reply in the language, not English."""
    customer = Customer("webchat")
    question = ORDER_STATUS[language][0]
    (reply,) = await say(customer, question)
    assert reply != replies.ASK_ORDER_NUMBER.text


async def test_asking_for_a_language_is_answered_in_it() -> None:
    customer = Customer("webchat")
    assert await say(customer, "can we speak French please?") == [
        "D'accord, continuons en français. Que puis-je faire pour vous\u00a0?"
    ]
    assert await say(customer, "123456") == [ORDER_STATUS["fr"][2]]


async def test_switching_language_in_the_middle_of_a_task() -> None:
    """The booking goes on where it was; from then on every reply is in Spanish."""
    customer = Customer("webchat")
    assert await say(customer, "I'd like to book a repair") == [replies.ask_store(()).text]
    assert await say(customer, "en español por favor") == ["Vale, seguimos en español."]
    assert await say(customer, "Oxford Street") == [localize(replies.ASK_WHEN.text, "es")]


@pytest.mark.parametrize("language", sorted(ORDER_STATUS))
async def test_the_first_choice_tapped_in_the_language(language: str) -> None:
    """The greeting's buttons are in the language; tapping one starts its task."""
    customer = Customer(CHANNEL[language])
    greeting = {"es": "hola, necesito ayuda", "de": "Hallo, ich brauche Hilfe",
                "fr": "Bonjour, j'ai besoin d'aide"}[language]  # fmt: skip
    shown = choices_in(await send_text(customer, greeting))
    assert shown[0] == localize(replies.ASK_ABOUT_ORDER, language) != replies.ASK_ABOUT_ORDER
    assert await say(customer, shown[0]) == [ORDER_STATUS[language][1]]


USELESS = {
    # Not understood, then "this is useless", on each language's channel.
    "en": ("what's the weather like in Paris tomorrow?", "this is useless"),
    "es": ("¿qué tiempo hace hoy en Madrid?", "esto no sirve para nada"),
    "de": ("wie wird das Wetter morgen in Berlin?", "das ist doch nutzlos"),
    "fr": ("quel temps fait-il à Paris demain ?", "c'est nul"),
}


@pytest.mark.parametrize("language", sorted(USELESS))
async def test_this_is_useless_after_a_miss_offers_a_person(language: str) -> None:
    customer = Customer(CHANNEL.get(language, "webchat"))
    recorded: list = []
    customer.adapter.use(AnalyticsMiddleware(recorded.append, lambda: NOW))
    missed, useless = USELESS[language]
    assert await say(customer, missed) == [localize(replies.NOT_UNDERSTOOD.text, language)]
    offer = await send_text(customer, useless)
    assert [a.text for a in offer if a.text] == [localize(replies.FRUSTRATION_OFFER.text, language)]
    person = localize(replies.ASK_FOR_PERSON, language)
    assert person in choices_in(offer)
    # Taking it hands the customer over, the reason being frustration.
    assert await say(customer, person) == [localize(replies.TEAM_UNREACHABLE.text, language)]
    names = [(e.name.value, e.props.get("reason")) for e in recorded]
    assert ("frustrationNoticed", None) in names
    assert ("handoffRequested", "frustration") in names


async def test_the_offer_comes_once_a_task_and_the_task_goes_on() -> None:
    customer = Customer("webchat")
    assert await say(customer, "where is my order") == [replies.ASK_ORDER_NUMBER.text]
    assert await say(customer, "THIS IS RIDICULOUS!!!") == [replies.FRUSTRATION_OFFER.text]
    # "No thanks": the question that was open is asked again.
    assert await say(customer, "No thanks") == [replies.ASK_ORDER_NUMBER.text]
    # Upset again in the same task: no second offer, the message is the task's.
    again = await say(customer, "this is so frustrating, it's ridiculous")
    assert again != [replies.FRUSTRATION_OFFER.text]
