"""The case view as a reader may see it: built from the case's events, payer masked by role.

Single-case reads and write responses fold the case's own events (``case_view_from_events``; a
write's from the state the repository kept, ``LedgerService.state_after``) rather than read the
projected row: they are exact for the version asked for (the ETag is never ahead of or behind
the body) and do not wait for the projection runner.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.masking import masked_payer, sees_identifiers
from ledger.domain.actor import Actor
from ledger.domain.codes import Classification
from ledger.domain.context import Context
from ledger.projections import case_view_from_events
from ledger.projections.views import CaseView
from ledger.store.port import RecordedEvent

__all__ = ["CaseView", "case_body", "shows_payer", "view_of"]


def view_of(records: list[RecordedEvent], now: datetime, context: Context) -> CaseView:
    return case_view_from_events(records, now, context)


def is_major(view: CaseView) -> bool:
    return view.classification is Classification.MAJOR or view.escalated


def shows_payer(view: CaseView, actor: Actor, context: Context) -> bool:
    """Whether ``actor`` sees this case's payer unmasked (``api.masking``)."""
    return sees_identifiers(actor, view.holding_unit, is_major(view), context)


def case_body(view: CaseView, actor: Actor, context: Context) -> CaseView:
    """``view`` with the payer masked unless ``actor`` needs the identifiers (api.masking)."""
    if shows_payer(view, actor, context):
        return view
    return msgspec.structs.replace(view, payer=masked_payer(view.payer))
