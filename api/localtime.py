"""Times are stored in UTC and shown in Asia/Shanghai (DOMAIN.md R8).

One ``after_request`` hook converts every datetime in a response body just before it is encoded,
so no controller, view or projection has to remember to; the instant is unchanged, only the
offset shown (``+08:00``) is the one the case's people live in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

from ledger.domain.context import SHANGHAI


def shown(value: Any) -> Any:
    """``value`` with every aware datetime inside it expressed in Asia/Shanghai."""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI) if value.tzinfo is not None else value
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
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
