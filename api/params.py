"""Query and header values read as strictly as bodies are (``api.bodies``), and within range.

Litestar converts a query value to its parameter's declared type non-strictly: a bare number
becomes a Unix time (``as_of=99999999999`` is a moment of the year 5138), ``1.0`` and ``1e0``
become the integer 1. And a time no ledger could hold (year 1 at +14:00, year 9999) went on to the
database, which refused it as "a number out of range" — or, on SQLite, answered as if it meant
something. ``check_parameters``, the app's ``before_request`` hook, so every route has it without
asking, reads the raw value of each query and header parameter declared as a time, a date, an
integer or text before Litestar converts it:

- a time (``datetime``) must be an RFC 3339 date-time with an offset, e.g.
  ``2026-01-01T08:00:00+08:00``, from 1990-01-01T00:00:00Z (``EARLIEST``, the domain's floor) to
  9000-01-01T00:00:00Z (``LATEST``: far beyond any ledger's life, yet with room for the
  Asia/Shanghai display and the date arithmetic of deadlines);
- a date must be ``YYYY-MM-DD`` from 1990-01-01 to 8999-12-31;
- an integer must be plain decimal digits, optionally after a minus sign;
- text (``str``) must hold no control character (U+0000–U+001F, U+007F) and no surrogate: none
  of the API's parameters means one, and PostgreSQL cannot even compare text with a NUL in it.

A refusal is 400 ``INVALID_PARAMETER`` naming each bad parameter as the client spells it
(``from``, not the handler's ``period_from``). Other constraints (bounds, lengths, patterns) are
declared on the parameters and checked by Litestar, mapped by ``api.problems``. Parameters must be
declared explicitly (``QueryParameter``/``HeaderParameter``), as they all are here.
"""

from __future__ import annotations

import re
import weakref
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from litestar import Request
from litestar.enums import ParamType
from litestar.params import ParameterKwarg, QueryParameter
from litestar.typing import FieldDefinition

from api.problems import ApiProblem, FieldError
from ledger.domain.guards import EARLIEST

LATEST = datetime(9000, 1, 1, tzinfo=UTC)
FIRST_DAY, LAST_DAY = EARLIEST.date(), date(LATEST.year - 1, 12, 31)

Kind = Literal["time", "date", "integer", "text"]

_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_INTEGER = re.compile(r"0|-?[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

TIME_FORMAT = "an RFC 3339 date-time with an offset, e.g. 2026-01-01T08:00:00+08:00"
TIME_RANGE = "from 1990-01-01T00:00:00Z to 9000-01-01T00:00:00Z"
DATE_RANGE = f"from {FIRST_DAY} to {LAST_DAY}"


def within(moment: datetime) -> bool:
    """Whether ``moment`` (aware) lies in the span any ledger's times can have."""
    return EARLIEST <= moment <= LATEST


def _got(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _parsed_error(
    value: str, shape: re.Pattern[str], kind: type, low: Any, high: Any, span: str, form: str
) -> str | None:
    """None if ``value`` has ``shape``, converts strictly to ``kind`` and lies in ``low..high``;
    else why not (``span``: the range in words, ``form``: the form)."""
    if shape.fullmatch(value):
        try:
            parsed: Any = msgspec.convert(value, kind, strict=True)
        except msgspec.ValidationError:
            pass
        else:
            if low <= parsed <= high:
                return None
            return f"must be {span}, not {_got(value)}"
    return f"must be {form}, not {_got(value)}"


def _time_error(value: str) -> str | None:
    # A "+" of an offset left unescaped in a URL arrives as a space.
    hint = " (send the + of an offset as %2B)" if " " in value.strip() else ""
    span = f"a time {TIME_RANGE}"
    return _parsed_error(value, _TIME, datetime, EARLIEST, LATEST, span, TIME_FORMAT + hint)


def _date_error(value: str) -> str | None:
    span, form = f"a date {DATE_RANGE}", "a date as YYYY-MM-DD"
    return _parsed_error(value, _DATE, date, FIRST_DAY, LAST_DAY, span, form)


def _integer_error(value: str) -> str | None:
    if _INTEGER.fullmatch(value):
        return None
    return f"must be an integer in plain decimal digits, not {_got(value)}"


def _text_error(value: str) -> str | None:
    if _CONTROL.search(value) is None:
        return None
    return f"must not hold control characters, not {_got(value)}"


_CHECKS = {"time": _time_error, "date": _date_error, "integer": _integer_error, "text": _text_error}


class Checked(NamedTuple):
    """A parameter whose raw value is checked: its name as sent, where it is sent, its kind."""

    name: str
    source: Literal["query", "header"]
    kind: Kind


def _kind(field: FieldDefinition) -> Kind | None:
    types = [t.annotation for t in field.inner_types if not t.is_none_type]
    annotation = (types[0] if len(types) == 1 else None) if field.is_union else field.annotation
    if annotation is datetime:
        return "time"
    if annotation is date:
        return "date"
    if annotation is int:
        return "integer"
    if annotation is str:
        return "text"
    return None


# Route handler → what it checks, worked out at its first request (weakly: tests make many apps).
_CHECKED: weakref.WeakKeyDictionary[Any, tuple[Checked, ...]] = weakref.WeakKeyDictionary()


def checked_parameters(handler: Any) -> tuple[Checked, ...]:
    """The query and header parameters of ``handler`` whose raw values ``check_parameters``
    checks."""
    known = _CHECKED.get(handler)
    if known is not None:
        return known
    # The handler's own parameters, and those of its dependencies (the filters of a case
    # listing are declared once, in ``api.cases.reads.provide_case_query``).
    signatures = [getattr(handler, "parsed_fn_signature", None)]
    resolve = getattr(handler, "resolve_dependencies", None)
    if resolve is not None:
        signatures += [getattr(p, "parsed_fn_signature", None) for p in resolve().values()]
    fields = [
        item for signature in signatures for item in getattr(signature, "parameters", {}).items()
    ]
    checked = []
    for name, field in fields:
        declared = field.kwarg_definition
        if field.is_di_field or not isinstance(declared, ParameterKwarg):
            continue
        kind = _kind(field)
        if kind is None or declared.param_type not in (ParamType.QUERY, ParamType.HEADER):
            continue
        source: Literal["query", "header"] = (
            "header" if declared.param_type is ParamType.HEADER else "query"
        )
        checked.append(Checked(declared.name or name, source, kind))
    _CHECKED[handler] = result = tuple(checked)
    return result


def parameter_errors(request: Request[Any, Any, Any]) -> list[FieldError]:
    errors = []
    for name, source, kind in checked_parameters(request.route_handler):
        given = request.query_params if source == "query" else request.headers
        for value in given.getall(name, []):
            message = _CHECKS[kind](value)
            if message is not None:
                errors.append(FieldError(field=name, message=message, source=source))
                break
    return errors


def invalid_parameters(*errors: FieldError, detail: str | None = None) -> ApiProblem:
    """The problem for bad request parameters: 400 naming each one and why (``detail`` says it
    once for parameters refused together)."""
    where = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApiProblem(
        400, "INVALID_PARAMETER", f"invalid request parameter: {where}", errors=list(errors)
    )


def inverted(first: str, second: str, start: date, end: date) -> ApiProblem:
    """The problem for a period given by parameters ``first`` and ``second`` (dates or times)
    that ends before it starts."""
    why = f"{second} ({end.isoformat()}) is before {first} ({start.isoformat()})"
    return invalid_parameters(
        FieldError(field=first, message=f"must not be after {second}", source="query"),
        FieldError(field=second, message=f"must not be before {first}", source="query"),
        detail=f"{first} and {second}: the period ends before it starts: {why}",
    )


# A report covers at most this many days: one over decades would read the whole ledger in one
# request (inspections, statistics).
MAX_PERIOD_DAYS = 3660


# A report's period, as its query parameters ``from`` and ``to`` (both days included).
PeriodFrom = Annotated[date, QueryParameter(name="from", description=f"YYYY-MM-DD, {DATE_RANGE}")]
PeriodTo = Annotated[date, QueryParameter(name="to", description=f"YYYY-MM-DD, {DATE_RANGE}")]


def check_period(period_from: date, period_to: date) -> None:
    """A report's period, ``from`` to ``to``: not inverted, and at most ``MAX_PERIOD_DAYS``
    long (400 naming both parameters otherwise)."""
    if period_from > period_to:
        raise inverted("from", "to", period_from, period_to)
    if (period_to - period_from).days > MAX_PERIOD_DAYS:
        longest = f"a period spans at most {MAX_PERIOD_DAYS} days"
        raise invalid_parameters(
            FieldError(field="from", message=longest, source="query"),
            FieldError(field="to", message=longest, source="query"),
            detail=f"from and to: {longest}",
        )


async def check_parameters(request: Request[Any, Any, Any]) -> None:
    """The ``before_request`` hook: refuse a time, date, integer or text parameter given in
    another form or out of range, before Litestar converts it (see the module docstring)."""
    errors = parameter_errors(request)
    if errors:
        raise invalid_parameters(*errors)


def given(**parameters: Any) -> dict[str, str]:
    """The parameters given (not None), by their names in the URL, as text: the filter the
    record keeps."""
    found = {}
    for name, value in parameters.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Enum):
            text = str(value.value)
        elif isinstance(value, datetime | date):
            text = value.isoformat()
        else:
            text = str(value)
        found[name] = text
    return found
