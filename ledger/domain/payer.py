"""The payer (缴费人): an employer (统一社会信用代码) or a person (居民身份证号)."""

from __future__ import annotations

import msgspec

from ledger.domain.codes import PayerKind
from ledger.domain.errors import r1
from ledger.domain.guards import is_blank, optional_text
from ledger.domain.identifiers import (
    InvalidIdentifier,
    validate_citizen_id,
    validate_credit_code,
    validate_phone,
)


class Payer(msgspec.Struct, frozen=True, kw_only=True):
    kind: PayerKind
    name: str
    identifier: str
    phone: str


def checked_payer(kind: PayerKind, name: str, identifier: str, phone: str) -> Payer:
    """A payer whose identifiers pass their check digits (R1: GB 11643 / GB 32100)."""
    name = optional_text("payer.name", name)
    if is_blank(name):
        raise r1("the payer's name is missing")
    try:
        if kind is PayerKind.EMPLOYER:
            identifier = validate_credit_code(identifier)
        else:
            identifier = validate_citizen_id(identifier)
        phone = validate_phone(phone)
    except InvalidIdentifier as exc:
        raise r1(str(exc)) from None
    return Payer(kind=kind, name=name, identifier=identifier, phone=phone)
