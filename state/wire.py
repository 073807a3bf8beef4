"""Bot Framework schema objects <-> their JSON (wire) form, fast.

msrest's `Model.serialize()` / `deserialize()` rebuild their class maps on every
call and cost about 450 µs / 150 µs an activity, several times a turn. These walk
the same `_attribute_map`s directly and give the same JSON (a test compares
them); a malformed value raises ValueError, as msrest raises DeserializationError.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from botbuilder import schema
from msrest.serialization import Deserializer, Model, Serializer

M = TypeVar("M", bound=Model)

_MODELS: dict[str, type[Model]] = {
    name: value
    for name, value in vars(schema).items()
    if isinstance(value, type) and issubclass(value, Model)
}


def to_json(value: Any) -> Any:
    if isinstance(value, Model):
        data: dict[str, Any] = {}
        for attribute, meta in type(value)._attribute_map.items():
            item = getattr(value, attribute, None)
            if item is None or attribute == "additional_properties":
                continue
            if meta["type"] == "iso-8601" and isinstance(item, datetime):
                data[meta["key"]] = Serializer.serialize_iso(item)
            else:
                data[meta["key"]] = to_json(item)
        extra = getattr(value, "additional_properties", None)
        if isinstance(extra, dict):
            for key, item in extra.items():
                data.setdefault(key, to_json(item))
        return data
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return Serializer.serialize_iso(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    # Any other object (a trace's state snapshot on the Emulator): its attributes.
    return to_json(vars(value)) if hasattr(value, "__dict__") else str(value)


def from_json(model: type[M], data: dict[str, Any]) -> M:
    if not isinstance(data, dict):
        raise ValueError(f"a {model.__name__} must be a JSON object")
    instance = model()
    known = set()
    for attribute, meta in model._attribute_map.items():
        known.add(meta["key"])
        if attribute == "additional_properties":
            continue
        item = data.get(meta["key"])
        if item is not None:
            setattr(instance, attribute, _parse(item, meta["type"]))
    extra = {key: item for key, item in data.items() if key not in known}
    if extra and hasattr(instance, "additional_properties"):
        instance.additional_properties = extra
    return instance


def _parse(item: Any, kind: str) -> Any:
    if kind in ("str", "object", "bool", "int", "float"):
        if kind == "str" and not isinstance(item, str):
            raise ValueError(f"expected a string, got {type(item).__name__}")
        return item
    if kind == "iso-8601":
        try:
            return Deserializer.deserialize_iso(item)
        except Exception as error:  # msrest raises its own DeserializationError
            raise ValueError(f"not an ISO-8601 time: {item!r}") from error
    if kind.startswith("[") and kind.endswith("]"):
        if not isinstance(item, list):
            raise ValueError(f"expected a list for {kind}")
        return [_parse(element, kind[1:-1]) for element in item]
    if kind.startswith("{") and kind.endswith("}"):
        if not isinstance(item, dict):
            raise ValueError(f"expected an object for {kind}")
        return {key: _parse(element, kind[1:-1]) for key, element in item.items()}
    model = _MODELS.get(kind)
    if model is None:
        return item
    return from_json(model, item)
