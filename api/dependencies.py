"""What route handlers get injected: the parts the lifespan opened, by name.

The lifespan (``api.app``) keeps the opened ``ledger.bootstrap.Ledger`` on the application
state; each provider hands out one part of it. ``store`` and ``audit`` are the names
``api.audit.routes`` expects.

A handler takes one of them where it can (the context is ``service.context`` and
``read_models.context``): Litestar resolves two or more dependencies of a handler concurrently, in
an anyio task group per request, which cost about a tenth of the server's time on the decide route
(bench scenario 3).
"""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from ledger.audit.service import AuditService
from ledger.bootstrap import Ledger
from ledger.domain.context import Context
from ledger.projections import ReadModels
from ledger.service import LedgerService
from ledger.store.port import EventStore


def opened(state: State) -> Ledger:
    value = state.get("ledger")
    if not isinstance(value, Ledger):
        raise RuntimeError("the ledger is not open (the app's lifespan did not run)")
    return value


def provide_store(state: State) -> EventStore:
    return opened(state).store


def provide_service(state: State) -> LedgerService:
    return opened(state).service


def provide_read_models(state: State) -> ReadModels:
    return opened(state).read_models


def provide_context(state: State) -> Context:
    return opened(state).context


def provide_audit(state: State) -> AuditService:
    return opened(state).audit


DEPENDENCIES = {
    "store": Provide(provide_store, sync_to_thread=False),
    "service": Provide(provide_service, sync_to_thread=False),
    "read_models": Provide(provide_read_models, sync_to_thread=False),
    "context": Provide(provide_context, sync_to_thread=False),
    "audit": Provide(provide_audit, sync_to_thread=False),
}
