"""Read models built from the event log: case views, accountability trails, first-responder
findings FR1–FR9, and the runner that keeps them current (ARCHITECTURE.md decision 5).

    read_models = await open_read_models(settings.database_url, settings.context())
    runner = read_models.runner()  # the API process: asyncio.create_task(runner.run(stop))
    page = await read_models.list_cases(CaseFilters(overdue=True))
    report = await read_models.inspection(date(2025, 1, 1), date(2025, 12, 31), unit="tax.hall")
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.context import Context
from ledger.projections.caseview import case_view_from_events
from ledger.projections.db import open_read_store
from ledger.projections.projection import Projection
from ledger.projections.readmodels import ProjectionsBehind, ReadModels
from ledger.projections.runner import ProjectionRunner
from ledger.projections.tables import InvalidCursor
from ledger.store import open_store
from ledger.store.port import EventStore

__all__ = [
    "InvalidCursor",
    "Projection",
    "ProjectionRunner",
    "ProjectionsBehind",
    "ReadModels",
    "case_view_from_events",
    "open_read_models",
]


async def open_read_models(
    url: str,
    context: Context | None = None,
    store: EventStore | None = None,
    projections: Sequence[Projection] | None = None,
) -> ReadModels:
    """Open the read models in the database at ``url`` (creating their tables). ``store`` is the
    event store of the same database; without one, a store is opened here and closed with the
    read models. ``projections``: the read models to keep (by default those registered in
    ``ledger.projections.registry.PROJECTIONS``)."""
    db = open_read_store(url, projections)
    await db.open()
    owns_store = store is None
    if store is None:
        store = open_store(url)
        try:
            await store.open()
        except BaseException:
            await db.close()
            raise
    return ReadModels(db, store, context or Context(), owns_store=owns_store)
