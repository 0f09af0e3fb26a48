"""The payer (缴费人): an employer (统一社会信用代码) or a person (居民身份证号); and the body
that assigned a matter (交办/转办), when one did.

One Struct for the payer as a request body gives it, as an event stores it and as a view shows
it; R1's checks of its identifiers (``guards.payer``) run before any event holds it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from ledger.domain.codes import AssigningBody, PayerKind

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Payer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: PayerKind
    name: ShortText
    identifier: ShortText
    phone: ShortText


class Party(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The employer (用人单位) a dispute, a demand notice or a court referral is about: its name
    and unified social credit code (统一社会信用代码, GB 32100), checked by ``guards.party``."""

    name: ShortText
    credit_code: ShortText


class Assignment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A matter assigned by another body (交办/转办, 二(二)3): who assigned it, and the date by
    which that body is owed a reply (checked by ``guards.assignment``)."""

    body: AssigningBody
    reply_due: date  # Asia/Shanghai date set by the assigning body
    body_name: Annotated[str, msgspec.Meta(max_length=200)] = ""  # e.g. 潜江市信访局
    reference: Annotated[str, msgspec.Meta(max_length=200)] = ""  # its document number (交办单号)
