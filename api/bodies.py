"""What a request body must be: JSON, each key once, each value of its field's own type.

Litestar reads a body as JSON whatever its ``Content-Type`` says, lets the last of two equal keys
win, and converts the decoded value to the route's command non-strictly — a JSON number becomes a
Unix time, ``"5"`` an integer. In a ledger whose events are evidence each of those records
something the client may not have meant, so ``JsonRequest`` refuses them before the command is
built, with the same problem shapes as every other bad body:

- a ``Content-Type`` other than JSON (``application/json`` or ``application/*+json``), or one
  naming a charset other than UTF-8: 415 ``UNSUPPORTED_MEDIA_TYPE``. A body sent without one is
  read as JSON, as Litestar reads it;
- JSON nested too deeply to decode, or an object naming a key twice: 400 ``MALFORMED_REQUEST``;
- a value that is not of its field's JSON type (a number for a time, a string for a number):
  422 ``VALIDATION_FAILED`` naming the field, as a missing or unknown field is.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from api.problems import ApiProblem

_JSON_MEDIA = re.compile(r"application/(?:[\w.+-]+\+)?json", re.ASCII)
# JSON is UTF-8 (RFC 8259 §8.1); a body said to be in another charset would be misread as UTF-8.
_UTF8 = frozenset({"utf-8", "utf8"})
# msgspec ends a validation message with the value's path: "... - at `$.payer.kind`".
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the JSON body names the key {key!r} twice in one object")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return value


def refuse_duplicate_keys(body: bytes) -> None:
    """Raise ``DuplicateKey`` if an object of ``body`` (valid JSON) names a key twice."""
    json.loads(body, object_pairs_hook=_unique_keys)


def _charset(parameters: str) -> str | None:
    """The ``charset`` parameter among a media type's ``parameters`` (``; charset=utf-8``)."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip()
    return None


def check_media_type(content_type: str | None) -> None:
    media_type, _, parameters = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type and not _JSON_MEDIA.fullmatch(media_type):
        raise ApiProblem(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"the request body must be JSON (Content-Type: application/json), not {media_type}",
            headers={"Accept-Post": "application/json"},
        )
    charset = _charset(parameters)
    if charset is not None and charset.lower() not in _UTF8:
        raise ApiProblem(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"the request body must be JSON in UTF-8 (RFC 8259), not charset={charset!r}",
            headers={"Accept-Post": "application/json"},
        )


def body_type(handler: Any) -> type[msgspec.Struct] | None:
    """The command Struct a route reads its body into, if it reads one."""
    signature = getattr(handler, "parsed_fn_signature", None)
    data = getattr(signature, "parameters", {}).get("data")
    annotation = getattr(data, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    return None


def strictly(value: Any, target: type[msgspec.Struct]) -> msgspec.Struct:
    """``value`` as ``target``, every field in its own JSON type (422 naming the field)."""
    try:
        return msgspec.convert(value, target, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        error: dict[str, str] = {"message": text[: at.start()] if at else text, "source": "body"}
        if at and at["path"]:
            error["key"] = at["path"]
        raise ValidationException(detail="the request body is invalid", extra=[error]) from None


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, reading a JSON body as the module says."""

    async def json(self) -> Any:
        check_media_type(self.headers.get("content-type"))
        try:
            value = await super().json()
        except RecursionError:  # msgspec stops at the interpreter's recursion limit
            raise ApiProblem(
                400, "MALFORMED_REQUEST", "the JSON body is nested too deeply to read"
            ) from None
        body = await self.body()
        if body:  # it decoded: a duplicate key fails here (anything else should not)
            try:
                refuse_duplicate_keys(body)
            except (ValueError, RecursionError) as exc:
                raise ApiProblem(400, "MALFORMED_REQUEST", str(exc)) from None
        target = body_type(self.route_handler)
        return value if target is None else strictly(value, target)
