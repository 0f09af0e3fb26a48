"""Payer identifiers (DOMAIN.md R1): GB 11643-1999 citizen IDs, GB 32100-2015 credit codes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.domain.identifiers import (
    CREDIT_CODE_CHARSET,
    InvalidIdentifier,
    make_citizen_id,
    make_credit_code,
    mask_identifier,
    mask_phone,
    validate_citizen_id,
    validate_credit_code,
    validate_phone,
)

TODAY = date(2025, 6, 1)

# --- citizen ID (GB 11643-1999) -------------------------------------------------------------

# The standard's own example. Worked by hand: digits 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 times
# weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 sum to 167; 167 mod 11 = 2; "10X98765432"[2] = X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_the_standards_own_example_is_valid() -> None:
    hand_sum = 7 + 9 + 0 + 5 + 0 + 20 + 2 + 9 + 24 + 27 + 7 + 18 + 30 + 5 + 0 + 0 + 4
    assert hand_sum == 167
    assert "10X98765432"[hand_sum % 11] == "X"
    assert validate_citizen_id(STANDARD_EXAMPLE, today=TODAY) == STANDARD_EXAMPLE


def test_lowercase_x_is_normalized_to_upper_case() -> None:
    assert validate_citizen_id("11010519491231002x", today=TODAY) == STANDARD_EXAMPLE


def test_surrounding_whitespace_from_pasted_input_is_dropped() -> None:
    assert validate_citizen_id(f"  {STANDARD_EXAMPLE}\n", today=TODAY) == STANDARD_EXAMPLE


def test_citizen_id_with_wrong_check_character_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match=r"citizen ID: wrong check character '3'.*'X'"):
        validate_citizen_id("110105194912310023", today=TODAY)


def test_fifteen_digit_first_generation_number_is_refused_with_its_own_message() -> None:
    with pytest.raises(InvalidIdentifier, match="15-digit first-generation"):
        validate_citizen_id("110105491231002", today=TODAY)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1101051949123100", "must be 18 characters, got 16"),
        ("1101051949123100212", "must be 18 characters, got 19"),
        ("11010519491231A02X", "first 17 characters must be digits"),
        ("1101051949123100２X", "first 17 characters must be digits"),  # full-width digit
        ("11010519491231002Y", "18th character must be a digit or X"),
    ],
)
def test_malformed_citizen_id_is_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        validate_citizen_id(value, today=TODAY)


def test_citizen_id_whose_birth_date_does_not_exist_is_refused() -> None:
    body = "11010519490231002"  # 31 February
    with pytest.raises(InvalidIdentifier, match=r"birth date .*19490231 is not a real date"):
        validate_citizen_id(body + "0", today=TODAY)


def test_citizen_id_born_after_today_is_refused() -> None:
    future = make_citizen_id(birth=date(2025, 6, 2))
    with pytest.raises(InvalidIdentifier, match="2025-06-02 is in the future"):
        validate_citizen_id(future, today=TODAY)
    assert validate_citizen_id(future, today=date(2025, 6, 2)) == future


def test_citizen_id_born_before_1900_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="before 1900-01-01"):
        validate_citizen_id(make_citizen_id(birth=date(1899, 12, 31)), today=TODAY)


def test_made_citizen_id_defaults_to_qianjiang_region() -> None:
    value = make_citizen_id(birth=date(1980, 1, 1), sequence=1)
    assert value.startswith("429005" + "19800101" + "001")
    assert validate_citizen_id(value, today=TODAY) == value


births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
regions = st.text(alphabet="0123456789", min_size=6, max_size=6)
citizen_ids = st.builds(make_citizen_id, regions, births, st.integers(0, 999))


@given(citizen_ids)
def test_made_citizen_ids_validate(value: str) -> None:
    assert validate_citizen_id(value, today=TODAY) == value


@given(citizen_ids, st.integers(0, 17), st.characters())
def test_any_single_character_change_to_a_citizen_id_is_caught(
    value: str, position: int, replacement: str
) -> None:
    assume(replacement.upper() != value[position])  # "x" for "X" is the same number
    changed = value[:position] + replacement + value[position + 1 :]
    with pytest.raises(InvalidIdentifier):
        validate_citizen_id(changed, today=TODAY)


@given(citizen_ids, st.integers(0, 16))
def test_swapping_two_adjacent_characters_of_a_citizen_id_is_caught(value: str, i: int) -> None:
    assume(value[i] != value[i + 1])
    swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    with pytest.raises(InvalidIdentifier):
        validate_citizen_id(swapped, today=TODAY)


# --- credit code (GB 32100-2015) ------------------------------------------------------------

# Worked by hand. Character values (index in 0-9 A-H J-N P-R T U W-Y): M = 21, Y = 30.
# 9·1 + 1·3 + 3·9 + 5·27 + 0·19 + 1·26 + 0·16 + 0·17 + M·20 + 0·29 + 0·25 + 0·13 + 1·8 + 0·24
# + 0·10 + Y·30 + 4·28 = 9+3+27+135+26+420+8+900+112 = 1640; 1640 mod 31 = 28; 31 - 28 = 3.
CREDIT_EXAMPLE = "91350100M000100Y43"


def test_a_hand_checked_credit_code_is_valid() -> None:
    assert CREDIT_CODE_CHARSET.index("M") == 21
    assert CREDIT_CODE_CHARSET.index("Y") == 30
    hand_sum = 9 + 3 + 27 + 135 + 26 + 21 * 20 + 8 + 30 * 30 + 4 * 28
    assert hand_sum == 1640
    assert 31 - hand_sum % 31 == 3
    assert validate_credit_code(CREDIT_EXAMPLE) == CREDIT_EXAMPLE


def test_credit_code_with_wrong_check_character_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match=r"credit code: wrong check character '4'.*'3'"):
        validate_credit_code("91350100M000100Y44")


def test_check_value_31_becomes_0() -> None:
    # A body whose weighted sum is a multiple of 31: all zeros. 31 - 0 = 31 → "0".
    assert make_credit_code("0", "0", "000000", "000000000") == "0" * 18


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_credit_code_with_a_letter_outside_the_charset_is_refused(letter: str) -> None:
    value = CREDIT_EXAMPLE[:8] + letter + CREDIT_EXAMPLE[9:]
    with pytest.raises(InvalidIdentifier, match=f"character 9 \\('{letter}'\\) is not allowed"):
        validate_credit_code(value)


def test_credit_code_of_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="must be 18 characters, got 17"):
        validate_credit_code(CREDIT_EXAMPLE[:17])


def test_lowercase_credit_code_is_normalized() -> None:
    assert validate_credit_code(CREDIT_EXAMPLE.lower()) == CREDIT_EXAMPLE


code_chars = st.sampled_from(CREDIT_CODE_CHARSET)
credit_codes = st.builds(
    make_credit_code,
    code_chars,
    code_chars,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=CREDIT_CODE_CHARSET, min_size=9, max_size=9),
)


@given(credit_codes)
def test_made_credit_codes_validate(value: str) -> None:
    assert validate_credit_code(value) == value


@given(credit_codes, st.integers(0, 17), st.characters())
def test_any_single_character_change_to_a_credit_code_is_caught(
    value: str, position: int, replacement: str
) -> None:
    assume(replacement.upper() != value[position])
    changed = value[:position] + replacement + value[position + 1 :]
    with pytest.raises(InvalidIdentifier):
        validate_credit_code(changed)


@given(credit_codes, st.integers(0, 16))
def test_swapping_two_adjacent_characters_of_a_credit_code_is_caught(value: str, i: int) -> None:
    assume(value[i] != value[i + 1])
    swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    with pytest.raises(InvalidIdentifier):
        validate_credit_code(swapped)


# --- phone numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("+86 13812345678", "13812345678"),
        ("0728-1234567", "0728-1234567"),
        ("07281234567", "0728-1234567"),
        ("010-12345678", "010-12345678"),
        ("02712345678", "027-12345678"),
    ],
)
def test_valid_phone_numbers_are_normalized(value: str, normalized: str) -> None:
    assert validate_phone(value) == normalized


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12812345678", "not a mainland mobile number"),
        ("1381234567", "not a mainland mobile number"),
        ("138123456789", "not a mainland mobile number"),
        ("１３８１２３４５６７８", "neither a mobile"),  # full-width digits
        ("0728-0123456", "neither a mobile"),
        ("728-1234567", "neither a mobile"),
        ("0728-123456", "neither a mobile"),
        ("", "neither a mobile"),
    ],
)
def test_invalid_phone_numbers_are_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=f"phone: .*{message}"):
        validate_phone(value)


# --- masking (个人信息保护法) -------------------------------------------------------------------


def test_identifier_mask_keeps_first_and_last_four() -> None:
    assert mask_identifier("420123456789011234") == "4201**********1234"
    assert mask_identifier(CREDIT_EXAMPLE) == "9135**********0Y43"


def test_short_identifier_is_masked_entirely() -> None:
    assert mask_identifier("12345678") == "********"


def test_phone_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0728-1234567") == "0728-***4567"
    assert mask_phone("010-12345678") == "010-****5678"
