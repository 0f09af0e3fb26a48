"""Times are stored in UTC and shown in Asia/Shanghai (DOMAIN.md R8).

One ``after_request`` hook converts every datetime in a response body just before it is encoded,
so no controller, view or projection has to remember to; the instant is unchanged, only the
offset shown (``+08:00``) is the one the case's people live in.

The hook runs on every response, so a Struct's fields are not all visited: for each Struct type,
the fields whose declared type can hold a datetime (directly, or inside a Struct, list, tuple,
dict or union, or as ``Any``) are worked out once from ``msgspec.inspect`` and only those are
looked at (six of the 27 fields of a case view, say).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

from ledger.domain.context import SHANGHAI

_inspect = msgspec.inspect

# Struct type → names of its fields that can hold a datetime.
_TIME_FIELDS: dict[type, tuple[str, ...]] = {}


def _can_hold_time(t: _inspect.Type, seen: set[type]) -> bool:
    if isinstance(t, _inspect.DateTimeType | _inspect.AnyType):
        return True
    if isinstance(t, _inspect.StructType):
        return bool(_time_fields(t.cls, seen))
    if isinstance(t, _inspect.UnionType):
        return any(_can_hold_time(member, seen) for member in t.types)
    if isinstance(t, _inspect.ListType | _inspect.SetType | _inspect.FrozenSetType):
        return _can_hold_time(t.item_type, seen)
    if isinstance(t, _inspect.VarTupleType):
        return _can_hold_time(t.item_type, seen)
    if isinstance(t, _inspect.TupleType):
        return any(_can_hold_time(item, seen) for item in t.item_types)
    if isinstance(t, _inspect.DictType):
        return _can_hold_time(t.value_type, seen)
    # Scalars, enums, literals, and types msgspec describes only as custom: a custom type is
    # encoded by a hook, never as a datetime of ours.
    return False


def _time_fields(cls: type, seen: set[type] | None = None) -> tuple[str, ...]:
    known = _TIME_FIELDS.get(cls)
    if known is not None:
        return known
    seen = set() if seen is None else seen
    if cls in seen:  # a recursive Struct: assume it can, the walk below is exact anyway
        return tuple(f.name for f in msgspec.structs.fields(cls))
    seen.add(cls)
    info = _inspect.type_info(cls)
    assert isinstance(info, _inspect.StructType)
    names = tuple(f.name for f in info.fields if _can_hold_time(f.type, seen))
    _TIME_FIELDS[cls] = names
    return names


def shown(value: Any) -> Any:
    """``value`` with every aware datetime inside it expressed in Asia/Shanghai; ``value``
    itself (the same object) where nothing changes."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        try:
            return value.astimezone(SHANGHAI)
        except OverflowError:  # at the calendar's edge (year 1 or 9999): shown as stored
            return value
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in _time_fields(type(value)):
            field = getattr(value, name)
            converted = shown(field)
            if converted is not field:
                changes[name] = converted
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(value, list | tuple):
        items = [shown(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        converted_dict = {key: shown(item) for key, item in value.items()}
        if all(converted_dict[k] is v for k, v in value.items()):
            return value
        return converted_dict
    return value


async def show_local_times(response: Any) -> Any:
    if isinstance(response, Response):
        response.content = shown(response.content)
    return response
