"""Personal data (个人信息保护法): who sees a payer's identifier and phone unmasked.

Collect and show personal data only as needed (DOMAIN.md, "Law"). The identifier (居民身份证号 or
统一社会信用代码) and the phone are shown in full only to staff who may act on the case and need
them to do so — the same people the rules let record acts on it:

- staff of the unit that holds the case (R4) with the intake or handler role;
- the leading-group office, on a major or escalated case (R4 lets it act there);
- the city tax bureau's enforcement staff (R5: a demand notice and a court referral name the payer).

Everyone else — auditors, inspectors, witnesses, other units — sees ``4201**********1234`` and
``138****5678``. An auditor who needs one case's identifiers reveals them (POST …/reveal): the
reveal is itself an event, so who looked, when and why is on the record. Cross-case outputs (the
event stream) are always masked: no single holder decides for them.

Views are masked field by field (:func:`masked_payer`); stored events, whose shape is whatever
was recorded, are masked on their JSON form: any object under a ``payer`` key has its
``identifier`` and ``phone`` masked, wherever it sits (:func:`mask_payers`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role
from ledger.domain.context import Context
from ledger.domain.identifiers import mask_identifier, mask_phone
from ledger.projections.views import PayerView

_MASKS = {"identifier": mask_identifier, "phone": mask_phone}


def sees_identifiers(actor: Actor, holder: str, major: bool, context: Context) -> bool:
    """Whether ``actor`` may see the payer of a case held by ``holder`` unmasked."""
    if actor.unit == holder and (actor.has(Role.HANDLER) or actor.has(Role.INTAKE)):
        return True
    if major and actor.has(Role.OFFICE) and actor.unit == context.reference.leading_group_office:
        return True
    return actor.department is Department.TAX and actor.has(Role.ENFORCEMENT)


def masked_payer(payer: PayerView) -> PayerView:
    return msgspec.structs.replace(
        payer, **{name: mask(getattr(payer, name)) for name, mask in _MASKS.items()}
    )


def _mask_payer(payer: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _MASKS[key](value) if key in _MASKS and isinstance(value, str) else value
        for key, value in payer.items()
    }


def mask_payers(data: Any) -> Any:
    """``data`` (JSON builtins) with every payer's identifier and phone masked; a new object."""
    if isinstance(data, dict):
        return {
            key: _mask_payer(value)
            if key == "payer" and isinstance(value, dict)
            else mask_payers(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask_payers(item) for item in data]
    return data
