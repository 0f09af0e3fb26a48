"""Payer identifiers and contact numbers, checked the way the issuing standards define them.

Rule R1 of DOMAIN.md: "payer identifiers pass their check digits (GB 11643 for ID numbers, GB 32100
for credit codes)". A person (职工/个人) is identified by the 18-character 公民身份号码 of
GB 11643-1999; an employer (用人单位) by the 18-character 统一社会信用代码 of GB 32100-2015.
三(一) also asks for the payer's contact details, hence :func:`validate_phone`.

The mask functions serve 个人信息保护法 (DOMAIN.md "Law"): identifiers are shown masked to roles
that do not need them. Pure functions only: no I/O.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = [
    "CREDIT_CODE_CHARSET",
    "InvalidIdentifier",
    "citizen_id_check_char",
    "credit_code_check_char",
    "make_citizen_id",
    "make_credit_code",
    "mask_identifier",
    "mask_phone",
    "validate_citizen_id",
    "validate_credit_code",
    "validate_phone",
]


class InvalidIdentifier(ValueError):
    """An identifier or phone number that its standard does not allow; the message says why."""


# --- GB 11643-1999 公民身份号码 -------------------------------------------------------------
# Weights W_i = 2^(17-i) mod 11 for positions 1..17 (GB 11643-1999 clause 7 / ISO 7064 MOD 11-2);
# the check character is _CITIZEN_CHECK[sum(a_i * W_i) mod 11].
_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK = "10X98765432"
# Nobody born before 1900 is still a contributing payer; an older "birth date" is a typo.
_EARLIEST_BIRTH = date(1900, 1, 1)


def citizen_id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (``0``–``9`` or ``X``) of 17 leading digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdentifier(
            f"citizen ID: the check character needs exactly 17 leading digits, got {first17!r}"
        )
    total = sum(int(c) * w for c, w in zip(first17, _CITIZEN_WEIGHTS, strict=True))
    return _CITIZEN_CHECK[total % 11]


def validate_citizen_id(s: str, *, today: date | None = None) -> str:
    """Check an 18-character 居民身份证号 and return it normalized (upper-case ``X``).

    Checks, in order: length 18 (the 15-digit first-generation number is refused: it has no check
    digit and stopped being valid in 2013), 17 digits then a digit or ``X``, a real birth date
    (positions 7–14, YYYYMMDD) between 1900-01-01 and ``today`` (default: the system date), and
    the GB 11643 check character. Surrounding whitespace is dropped (pasted input).
    """
    value = s.strip().upper()
    if len(value) == 15 and value.isascii() and value.isdigit():
        raise InvalidIdentifier(
            "citizen ID: 15-digit first-generation numbers are not accepted; give the 18-character"
            " number of the second-generation card (GB 11643-1999)"
        )
    if len(value) != 18:
        raise InvalidIdentifier(f"citizen ID: must be 18 characters, got {len(value)}")
    body, check = value[:17], value[17]
    if not (body.isascii() and body.isdigit()):
        raise InvalidIdentifier("citizen ID: the first 17 characters must be digits 0-9")
    if check not in "0123456789X":
        raise InvalidIdentifier(
            f"citizen ID: the 18th character must be a digit or X, got {check!r}"
        )
    birth_text = body[6:14]
    try:
        birth = date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:]))
    except ValueError:
        raise InvalidIdentifier(
            f"citizen ID: the birth date (characters 7-14) {birth_text} is not a real date"
        ) from None
    limit = today if today is not None else date.today()
    if birth > limit:
        raise InvalidIdentifier(
            f"citizen ID: the birth date {birth.isoformat()} is in the future"
            f" (today is {limit.isoformat()})"
        )
    if birth < _EARLIEST_BIRTH:
        raise InvalidIdentifier(
            f"citizen ID: the birth date {birth.isoformat()} is before"
            f" {_EARLIEST_BIRTH.isoformat()}"
        )
    expected = citizen_id_check_char(body)
    if check != expected:
        raise InvalidIdentifier(
            f"citizen ID: wrong check character {check!r} (GB 11643-1999 gives {expected!r})"
        )
    return value


def make_citizen_id(
    region: str = "429005", birth: date = date(1980, 1, 1), sequence: int = 1
) -> str:
    """Build a valid citizen ID: 6-digit region (default 429005 潜江市), birth date, 3-digit
    sequence (odd for men, even for women), and the computed check character. For demo data and
    tests; the result is a well-formed number, not a real person's."""
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise ValueError(f"region must be 6 digits, got {region!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be 0..999, got {sequence}")
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + citizen_id_check_char(body)


# --- GB 32100-2015 统一社会信用代码 ---------------------------------------------------------
# 31 characters: digits and upper-case letters except I, O, Z, S, V (easily misread); a
# character's value is its index here.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}
# W_i = 3^(i-1) mod 31, positions 1..17 (GB 32100-2015 clause 5.2).
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character: C18 = 31 - (Σ Ci·Wi mod 31), where 31 becomes 0."""
    if len(first17) != 17:
        raise InvalidIdentifier(
            f"credit code: the check character needs exactly 17 leading characters, got {first17!r}"
        )
    try:
        total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    except KeyError as exc:
        raise InvalidIdentifier(
            f"credit code: character {exc.args[0]!r} is not in the GB 32100 character set"
        ) from None
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def validate_credit_code(s: str) -> str:
    """Check an 18-character 统一社会信用代码 and return it normalized (upper case).

    Checks length, the character set (no I, O, Z, S, V) and the check character. The internal
    structure (registration authority, category, region, organization code) is not checked:
    the check character already catches every single-character error and adjacent swap.
    """
    value = s.strip().upper()
    if len(value) != 18:
        raise InvalidIdentifier(f"credit code: must be 18 characters, got {len(value)}")
    for position, c in enumerate(value, start=1):
        if c not in _CREDIT_VALUE:
            raise InvalidIdentifier(
                f"credit code: character {position} ({c!r}) is not allowed; GB 32100 uses only"
                f" {CREDIT_CODE_CHARSET}"
            )
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(
            f"credit code: wrong check character {value[17]!r} (GB 32100-2015 gives {expected!r})"
        )
    return value


def make_credit_code(
    authority: str = "9", category: str = "1", region: str = "429005", org: str = "MA4900001"
) -> str:
    """Build a valid credit code: registration authority (9 = 工商, i.e. market regulation),
    category (1 = enterprise), 6-digit region (default 潜江市), 9-character organization code,
    and the computed check character. For demo data and tests."""
    if len(authority) != 1 or len(category) != 1 or len(region) != 6 or len(org) != 9:
        raise ValueError("authority and category take 1 character, region 6, org 9")
    body = f"{authority}{category}{region}{org}".upper()
    return body + credit_code_check_char(body)


# --- phone numbers (三(一) 联系方式) ----------------------------------------------------------
# re.ASCII: without it \d also matches full-width and other Unicode digits.
_MOBILE = re.compile(r"(?:(?:\+86|0086)[ -]?)?(1[3-9]\d{9})", re.ASCII)
# Area codes: 010 and 02x have 3 digits, all others 4 (e.g. 0728 潜江); subscriber numbers have
# 7 or 8 digits and never start with 0 (a leading 0 would be read as another area code).
_LANDLINE = re.compile(r"(010|02\d|0[3-9]\d{2})-?([1-9]\d{6,7})", re.ASCII)


def validate_phone(s: str) -> str:
    """Check a mainland mobile (``1[3-9]`` + 9 digits, optional +86) or landline number
    (``0728-1234567`` or ``07281234567``) and return it normalized: a mobile as 11 digits, a
    landline as ``area-subscriber``."""
    value = s.strip()
    mobile = _MOBILE.fullmatch(value)
    if mobile:
        return mobile.group(1)
    landline = _LANDLINE.fullmatch(value)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    if value.startswith("1"):
        raise InvalidIdentifier(
            f"phone: {value!r} is not a mainland mobile number (11 digits starting 13-19)"
        )
    raise InvalidIdentifier(
        f"phone: {value!r} is neither a mobile number (11 digits starting 13-19) nor a landline"
        " (area code, then 7 or 8 digits, e.g. 0728-1234567)"
    )


# --- masking (个人信息保护法) ---------------------------------------------------------------
def _keep(s: str, head: int, tail: int) -> str:
    # A value no longer than what would be kept is masked entirely: showing it would show all.
    if len(s) <= head + tail:
        return "*" * len(s)
    return s[:head] + "*" * (len(s) - head - tail) + s[len(s) - tail :]


def mask_identifier(s: str) -> str:
    """Keep the first 4 and last 4 characters: ``4201**********1234`` (8 or fewer: all masked)."""
    return _keep(s, 4, 4)


def mask_phone(s: str) -> str:
    """``138****5678`` for a mobile; ``0728-***4567`` for a landline (the area code is public)."""
    area, sep, number = s.rpartition("-")
    if sep:
        return f"{area}-{_keep(number, 0, 4)}"
    return _keep(s, 3, 4)
