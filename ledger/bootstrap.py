"""The composition root: one place that opens the ledger as a configuration describes it.

    async with open_ledger(Settings.from_env()) as ledger:
        await ledger.service.execute(case_id, actor, command, version)
        page = await ledger.read_models.list_cases(filters)
        report = await ledger.audit.verify_shared()

The API's lifespan, every ``ledger`` CLI command and the projection runner open the ledger here,
so each gets the same parts made the same way: the database URL parsed once into a
``Database`` handed to every adapter; the event store opened with the audit hooks (the Merkle log
grows in the same transaction as the events, in every process that appends); the write service
with the configured rules' context and the snapshot key; the read models over the same store;
the audit service over the same store. Parts a command does not need are not opened.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ledger.audit.keys import KeyConfig
from ledger.audit.service import AuditService, audit_hooks
from ledger.config import Settings
from ledger.domain.context import Context
from ledger.projections import ReadModels, open_read_models
from ledger.service import LedgerService
from ledger.store import Database, EventStore, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ledger:
    """The opened parts of one ledger. ``read_models`` and ``audit`` are None when not asked
    for (a parts-specific property raises instead of handing out None)."""

    settings: Settings
    database: Database
    context: Context
    store: EventStore
    service: LedgerService
    _read_models: ReadModels | None = None
    _audit: AuditService | None = None

    @property
    def read_models(self) -> ReadModels:
        if self._read_models is None:
            raise RuntimeError("the read models were not opened (open_ledger(read_models=True))")
        return self._read_models

    @property
    def audit(self) -> AuditService:
        if self._audit is None:
            raise RuntimeError("the audit service was not opened (open_ledger(audit=True))")
        return self._audit


def service(settings: Settings, store: EventStore, context: Context | None = None) -> LedgerService:
    """The write service over ``store`` as ``settings`` configure it: context, snapshot key."""
    return LedgerService(store, context or settings.context(), snapshot_key=settings.snapshot_key())


def key_config(settings: Settings) -> KeyConfig:
    return msgspec.structs.replace(KeyConfig.from_env(), key_dir=Path(settings.key_dir))


@contextlib.asynccontextmanager
async def open_ledger(
    settings: Settings,
    *,
    read_models: bool = False,
    audit: bool = False,
    signing: bool | None = None,
) -> AsyncIterator[Ledger]:
    """The ledger of ``settings``, opened; closed in reverse order on exit.

    ``signing``: whether the audit service signs checkpoints — True requires the ledger's private
    key, None signs if the key is there (and logs that it is not), False never signs.
    """
    database = Database.parse(settings.database_url)
    context = settings.context()
    async with contextlib.AsyncExitStack() as stack:
        store = open_store(database, hooks=audit_hooks(), timeouts=settings.timeouts)
        await store.open()
        stack.push_async_callback(store.close)
        opened_read_models = opened_audit = None
        if read_models:
            opened_read_models = await open_read_models(database.url, context, store)
            stack.push_async_callback(opened_read_models.close)
        if audit:
            keys = key_config(settings)
            if signing is None:
                signing = (keys.key_dir / "ledger.key").exists()
                if not signing:
                    log.warning("no ledger private key in %s: no checkpoints made", keys.key_dir)
            opened_audit = AuditService.from_store(store, keys, signing=signing)
            stack.push_async_callback(opened_audit.close)
        yield Ledger(
            settings=settings,
            database=database,
            context=context,
            store=store,
            service=service(settings, store, context),
            _read_models=opened_read_models,
            _audit=opened_audit,
        )
