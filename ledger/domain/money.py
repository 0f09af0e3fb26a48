"""Money in yuan, exact (DOMAIN.md rule R8: "money is exact (integer fen or Decimal), never float").

Amounts in the ledger — confirmed arrears (欠费金额确认), refunds, late fees (滞纳金) — are
non-negative yuan with at most two places (fen, 分). They travel as decimal strings ("1234.50"),
live in code as :class:`~decimal.Decimal` quantized to 0.01, and may be stored as integer fen.
A binary float cannot hold 0.10 exactly, so a float is refused outright rather than converted.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "CENT",
    "MAX_YUAN",
    "InvalidMoney",
    "format_yuan",
    "from_fen",
    "parse_yuan",
    "to_fen",
]

CENT = Decimal("0.01")
# No social-insurance arrears come near a trillion yuan; a larger figure is a keying error
# (or an attack on the Decimal context), so it is refused instead of recorded.
MAX_YUAN = Decimal(10) ** 12

# Plain notation only: "1234", "1234.5", "1234.50". No exponent ("1e3"), no thousands separators,
# no sign; [0-9], not \d, so that full-width digits are not silently taken as digits. The HTTP
# commands check the same notation (``ledger.commands.Yuan``).
PLAIN_YUAN = r"[0-9]+(?:\.[0-9]+)?"
_PLAIN = re.compile(PLAIN_YUAN)


class InvalidMoney(ValueError):
    """An amount that is not a non-negative, exact yuan amount within range."""


def _refuse_float(value: object, what: str) -> None:
    if isinstance(value, bool):  # an int subclass: True as "1 yuan" is always a bug
        raise TypeError(f"{what}: got bool {value!r}; pass a decimal string, int or Decimal")
    if isinstance(value, float):
        raise TypeError(
            f"{what}: got float {value!r}; rule R8: money is exact — pass a decimal string,"
            " int or Decimal, never a float"
        )


def parse_yuan(value: str | int | Decimal) -> Decimal:
    """Read an amount in yuan and return it as a Decimal quantized to 0.01.

    Accepts a plain decimal string (surrounding whitespace ignored), an int or a Decimal. Refuses,
    with :class:`InvalidMoney`: negative amounts, NaN and infinities, anything finer than a fen
    (``"1.005"``; trailing zeros such as ``"1.500"`` lose nothing and are accepted), and amounts
    above 10^12 yuan. Refuses a float (or bool) with :class:`TypeError` naming R8.
    """
    _refuse_float(value, "amount")
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower().lstrip("+-")
        if lowered in {"nan", "snan", "inf", "infinity"}:
            raise InvalidMoney(f"amount: {value!r} is not a number of yuan")
        if text.startswith("-"):
            raise InvalidMoney(f"amount: {value!r} is negative; amounts are never below zero")
        if not _PLAIN.fullmatch(text):
            raise InvalidMoney(
                f"amount: {value!r} is not a plain decimal number of yuan (e.g. '1234.50')"
            )
        amount = Decimal(text)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise TypeError(f"amount: expected str, int or Decimal, got {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidMoney(f"amount: {value!r} is not a number of yuan")
    if amount < 0:
        raise InvalidMoney(f"amount: {value!r} is negative; amounts are never below zero")
    if amount > MAX_YUAN:
        raise InvalidMoney(f"amount: {value!r} exceeds the limit of {MAX_YUAN:f} yuan")
    # abs() turns Decimal("-0") into 0 so that no "-0.00" ever reaches a record.
    return abs(_exact_cents(amount, value))


def _exact_cents(amount: Decimal, original: object) -> Decimal:
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:  # only for values too large for the context; callers bound them
        raise InvalidMoney(f"amount: {original!r} is out of range") from None
    if cents != amount:
        raise InvalidMoney(
            f"amount: {original!r} has more than 2 decimal places; the smallest unit is 0.01 yuan"
        )
    return cents


def to_fen(amount: Decimal) -> int:
    """Yuan → integer fen, exactly: ``Decimal("1234.50")`` → ``123450``.

    The sign is kept (a difference of two amounts may be negative); a value that is not a whole
    number of fen, or not finite, raises :class:`InvalidMoney` instead of being rounded.
    """
    _refuse_float(amount, "to_fen")
    if not isinstance(amount, Decimal):
        raise TypeError(f"to_fen: expected Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidMoney(f"to_fen: {amount!r} is not a number of yuan")
    return int(_exact_cents(amount, amount).scaleb(2))


def from_fen(fen: int) -> Decimal:
    """Integer fen → yuan with exactly two places: ``123450`` → ``Decimal("1234.50")``."""
    _refuse_float(fen, "from_fen")
    if not isinstance(fen, int):
        raise TypeError(f"from_fen: expected int, got {type(fen).__name__}")
    # Built from text, which Decimal takes exactly; arithmetic would round past 28 digits.
    return Decimal(f"{fen}E-2")


def format_yuan(amount: Decimal) -> str:
    """Two places, no exponent, no separators: ``Decimal("1234.5")`` → ``"1234.50"``."""
    _refuse_float(amount, "format_yuan")
    if not isinstance(amount, Decimal):
        raise TypeError(f"format_yuan: expected Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidMoney(f"format_yuan: {amount!r} is not a number of yuan")
    # "+ 0" folds a negative zero into "0.00".
    return f"{_exact_cents(amount, amount) + 0:f}"
