"""Exact money (DOMAIN.md rule R8)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.money import InvalidMoney, format_yuan, from_fen, parse_yuan, to_fen


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("1234", "1234.00"),
        (" 0.01 ", "0.01"),
        ("0", "0.00"),
        ("1.500", "1.50"),  # trailing zeros lose nothing
        (1234, "1234.00"),
        (Decimal("99.9"), "99.90"),
        (Decimal("-0"), "0.00"),
        ("1000000000000", "1000000000000.00"),
    ],
)
def test_amounts_are_quantized_to_the_fen(value: str | int | Decimal, expected: str) -> None:
    result = parse_yuan(value)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_float_is_refused_naming_rule_r8() -> None:
    with pytest.raises(TypeError, match="R8"):
        parse_yuan(0.1)  # type: ignore[arg-type]


def test_bool_is_refused() -> None:
    with pytest.raises(TypeError, match="bool"):
        parse_yuan(True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "negative"),
        ("-0.01", "negative"),
        (-1, "negative"),
        (Decimal("-5"), "negative"),
        ("NaN", "not a number"),
        ("-Infinity", "not a number"),
        (Decimal("sNaN"), "not a number"),
        (Decimal("Infinity"), "not a number"),
        ("1.005", "more than 2 decimal places"),
        (Decimal("0.001"), "more than 2 decimal places"),
        ("1000000000000.01", "exceeds the limit"),
        (10**13, "exceeds the limit"),
        (Decimal("1E+30"), "exceeds the limit"),
        ("1e3", "not a plain decimal"),
        ("1,234.00", "not a plain decimal"),
        ("¥12", "not a plain decimal"),
        ("１２", "not a plain decimal"),  # full-width digits
        ("", "not a plain decimal"),
        ("+5", "not a plain decimal"),
    ],
)
def test_invalid_amounts_are_refused(value: str | int | Decimal, message: str) -> None:
    with pytest.raises(InvalidMoney, match=message):
        parse_yuan(value)


def test_fen_conversions() -> None:
    assert to_fen(Decimal("1234.50")) == 123450
    assert from_fen(123450) == Decimal("1234.50")
    assert str(from_fen(5)) == "0.05"
    assert str(from_fen(-5)) == "-0.05"


def test_to_fen_refuses_a_fraction_of_a_fen_instead_of_rounding() -> None:
    with pytest.raises(InvalidMoney, match="more than 2 decimal places"):
        to_fen(Decimal("0.005"))


def test_conversions_refuse_floats() -> None:
    with pytest.raises(TypeError, match="R8"):
        to_fen(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="R8"):
        from_fen(150.0)  # type: ignore[arg-type]


def test_format_yuan() -> None:
    assert format_yuan(Decimal("1234.5")) == "1234.50"
    assert format_yuan(Decimal("1E+3")) == "1000.00"
    assert format_yuan(Decimal("-0.00")) == "0.00"
    with pytest.raises(InvalidMoney):
        format_yuan(Decimal("0.001"))


fens = st.integers(min_value=0, max_value=10**14)


@given(fens)
def test_fen_round_trip(fen: int) -> None:
    assert to_fen(from_fen(fen)) == fen


@given(fens)
def test_text_round_trip(fen: int) -> None:
    amount = from_fen(fen)
    assert parse_yuan(format_yuan(amount)) == amount
    assert format_yuan(parse_yuan(format_yuan(amount))) == format_yuan(amount)


@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_from_fen_is_exact_even_beyond_the_decimal_context_precision(fen: int) -> None:
    assert from_fen(fen).as_tuple() == Decimal(fen).as_tuple()._replace(exponent=-2)
