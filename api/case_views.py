"""The case view as a reader may see it: built from the case's events, payer masked by role.

Single-case reads and write responses fold the case's own events (``case_view_from_events``,
``RecentCases``) rather than read the projected row: they are exact for the version asked for
(the ETag is never ahead of or behind the body) and do not wait for the projection runner.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from uuid import UUID

import msgspec

from api.masking import masked_payer, sees_identifiers
from ledger.domain.actor import Actor
from ledger.domain.codes import Classification
from ledger.domain.context import Context
from ledger.projections import case_view_from_events
from ledger.projections.caseview import case_view, fold_case
from ledger.projections.state import CaseState
from ledger.projections.views import CaseView
from ledger.service import LedgerService
from ledger.store.port import AppendResult, RecordedEvent

__all__ = ["CaseView", "RecentCases", "case_body", "shows_payer", "view_of"]

# Histories kept between a command's load and its write's view: one per command in flight.
_LOADED_KEPT = 256


def view_of(records: list[RecordedEvent], now: datetime, context: Context) -> CaseView:
    return case_view_from_events(records, now, context)


class RecentCases:
    """The folded states of the cases this process wrote last, for the responses to writes.

    A write answers with the case as its append left it. The append hands back the events it
    stored, so the view is the state kept from this process's previous write to the case plus
    those events — exactly the fold of the stored events, without reading the case again. The
    kept state is used only when the new events follow it directly (its version + 1). A case
    not written here before was just read whole by the service to decide the command on it
    (``LedgerService.observe_histories``): those records, when the new events follow them, are
    folded instead. Otherwise (another process wrote in between, an idempotent replay, a case
    loaded from a snapshot) the case is read from the store. Bounded; the least recently
    written case is dropped first.
    """

    def __init__(self, service: LedgerService, size: int = 4096) -> None:
        self.service = service
        self._states: OrderedDict[UUID, CaseState] = OrderedDict()
        self._size = size
        # Whole histories the service read for commands still running (few: popped by the
        # write's view, or dropped oldest first when the command failed).
        self._loaded: OrderedDict[UUID, list[RecordedEvent]] = OrderedDict()
        service.observe_histories(self._history_read)

    def _history_read(self, case_id: UUID, records: list[RecordedEvent]) -> None:
        self._loaded[case_id] = records
        self._loaded.move_to_end(case_id)
        while len(self._loaded) > _LOADED_KEPT:
            self._loaded.popitem(last=False)

    async def view_after(self, result: AppendResult) -> CaseView:
        """The case as the append that produced ``result`` left it (also for replays)."""
        state = self._continued(result)
        if state is None:
            records = await self.service.history(result.case_id, to_version=result.version)
            state = fold_case(records, self.service.context)
        if result.records:  # a replay's state may be old: keep only states of fresh appends
            self._states[result.case_id] = state
            self._states.move_to_end(result.case_id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)
        return case_view(state, self.service.clock())

    def _continued(self, result: AppendResult) -> CaseState | None:
        loaded = self._loaded.pop(result.case_id, None)
        if not result.records:
            return None
        kept = self._states.pop(result.case_id, None)
        first = result.records[0].version
        if first == 1:
            return fold_case(result.records, self.service.context)
        if kept is None or kept.version != first - 1:
            if loaded and loaded[-1].version == first - 1:
                return fold_case([*loaded, *result.records], self.service.context)
            return None
        # No await between taking the state out of the cache and putting it back: no other
        # request sees it half-folded.
        return fold_case(result.records, self.service.context, kept)


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
