"""Turn state <-> plain JSON.

Dialog state holds a few botbuilder objects (the dialog stack, prompt options,
the prompt's activity). They are written as `{"$type": name, "$value": ...}`
for the named types below and nothing else: reading a document can only ever
build these types, never import or call anything else (unlike jsonpickle,
which restores whatever class a stored document names).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from botbuilder.dialogs import DialogInstance, DialogState
from botbuilder.dialogs.choices import Choice, ListStyle
from botbuilder.dialogs.prompts import PromptOptions
from botbuilder.schema import Activity, Attachment, CardAction, SuggestedActions
from msrest.serialization import Model

from state import wire

TYPE, VALUE = "$type", "$value"

# Plain classes: stored as their attributes.
_OBJECTS: dict[str, type] = {
    "DialogState": DialogState,
    "DialogInstance": DialogInstance,
    "PromptOptions": PromptOptions,
    "Choice": Choice,
}
# Bot Framework schema models: stored in their own wire format.
_MODELS: dict[str, type[Model]] = {
    "Activity": Activity,
    "Attachment": Attachment,
    "CardAction": CardAction,
    "SuggestedActions": SuggestedActions,
}
_ENUMS: dict[str, type[Enum]] = {"ListStyle": ListStyle}


def encode(value: Any) -> Any:
    """A JSON-ready copy of `value`; raises TypeError for a type not listed here."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        encoded = {_key(key): encode(item) for key, item in value.items()}
        # A stored dict that happens to use "$type" must not be read back as an object.
        return {TYPE: "dict", VALUE: encoded} if TYPE in encoded else encoded
    if isinstance(value, datetime):
        return {TYPE: "datetime", VALUE: value.isoformat()}
    name = type(value).__name__
    if isinstance(value, Enum) and _ENUMS.get(name) is type(value):
        return {TYPE: name, VALUE: value.value}
    if _MODELS.get(name) is type(value):
        return {TYPE: name, VALUE: wire.to_json(value)}
    if _OBJECTS.get(name) is type(value):
        return {TYPE: name, VALUE: {attr: encode(item) for attr, item in vars(value).items()}}
    for model_name, model in _MODELS.items():
        if isinstance(value, model):  # a subclass (a reply): stored, and read, as its model
            return {TYPE: model_name, VALUE: wire.to_json(value)}
    raise TypeError(f"state cannot store a {type(value).__module__}.{name}")


class Pickled(ValueError):
    """The value was written by jsonpickle (botbuilder-azure's format for objects)."""


def decode(value: Any) -> Any:
    """The value `encode` wrote; raises Pickled for what jsonpickle wrote (found on the same
    walk, rather than a walk of its own before every decode)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if TYPE not in value:
        return _decode_dict(value)
    name, inner = value[TYPE], value.get(VALUE)
    if name == "dict":
        return _decode_dict(inner)
    if name == "datetime":
        return datetime.fromisoformat(inner)
    if name in _ENUMS:
        return _ENUMS[name](inner)
    if name in _MODELS:
        return wire.from_json(_MODELS[name], inner)
    if name in _OBJECTS:
        instance = _OBJECTS[name].__new__(_OBJECTS[name])
        vars(instance).update({attr: decode(item) for attr, item in inner.items()})
        return instance
    raise ValueError(f"stored state names an unknown type {name!r}")


def _decode_dict(value: dict) -> dict:
    decoded = {}
    for key, item in value.items():
        if key.startswith("py/"):
            raise Pickled(key)
        decoded[key] = decode(item)
    return decoded


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"state keys must be strings, not {type(key).__name__}")
    return key
