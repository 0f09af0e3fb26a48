"""``AuditService``: the store, the audit tables and the keys behind one object.

This is what the API gets as its ``audit`` dependency and what the CLI drives. Build it from an
opened store (the store must have been opened with ``audit_hooks()``, or the tree is not kept):

    store = open_store(url, hooks=audit_hooks())
    await store.open()
    audit = AuditService.from_store(store, KeyConfig.from_env())

or let it open everything itself with ``await AuditService.open(url)``. A process without the
ledger's private key (a read-only replica, an auditor's laptop) passes ``signing=False``: it can
serve proofs, bundles and verification, and refuses to make checkpoints.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from ledger.audit import bundle as bundles
from ledger.audit import proofs
from ledger.audit.checkpoints import (
    Checkpoint,
    CheckpointError,
    check_cosignature,
    cosignature_time,
    open_checkpoint,
    sign_checkpoint,
)
from ledger.audit.db import AuditDB, StoredCheckpoint, open_audit_db
from ledger.audit.errors import (
    CheckpointNotFound,
    CosignatureRejected,
    SigningUnavailable,
)
from ledger.audit.jobs import VerificationJobs, open_job_table
from ledger.audit.keys import KeyConfig, PublicKey, Signer, TrustedKeys, load_signer, load_trusted
from ledger.audit.log_hook import MerkleHook
from ledger.audit.note import NoteError, parse_signature_line
from ledger.audit.verify import Progress, VerifyReport, verify_ledger
from ledger.store import AppendHook, EventStore, open_store
from ledger.store.port import CaseNotFound, RecordedEvent

FUTURE_TOLERANCE = timedelta(hours=1)  # clock skew allowed between a bureau and the ledger


def audit_hooks() -> list[AppendHook]:
    """The hooks every store that appends must be opened with."""
    return [MerkleHook()]


def database_url(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    return env.get("LEDGER_DATABASE_URL") or "sqlite:///./ledger.db"


class AuditService:
    def __init__(
        self, store: EventStore, db: AuditDB, trusted: TrustedKeys, signer: Signer | None = None
    ) -> None:
        if signer is not None and signer.public != trusted.ledger:
            raise ValueError("the ledger signing key does not match the trusted ledger key")
        self.store, self.db, self.trusted, self.signer = store, db, trusted, signer
        self.origin = trusted.ledger.name
        self._owns_store = False
        self._verifying: asyncio.Future[VerifyReport] | None = None
        # The last verification this process completed, and when (None: none yet).
        self.last_verified: tuple[datetime, VerifyReport] | None = None
        # Whole-ledger verifications as jobs, their state in the database (``jobs``).
        self.verifications = VerificationJobs(
            open_job_table(db), lambda progress: self.verify(progress)
        )

    @classmethod
    def from_store(
        cls, store: EventStore, config: KeyConfig, *, signing: bool = True
    ) -> AuditService:
        signer = load_signer(config.key_dir / "ledger.key") if signing else None
        return cls(store, open_audit_db(store), load_trusted(config), signer)

    @classmethod
    async def open(
        cls, url: str | None = None, config: KeyConfig | None = None, *, signing: bool = True
    ) -> AuditService:
        config = config or KeyConfig.from_env()
        store = open_store(url or database_url(), hooks=audit_hooks())
        await store.open()
        try:
            service = cls.from_store(store, config, signing=signing)
        except BaseException:
            await store.close()
            raise
        service._owns_store = True
        return service

    async def close(self) -> None:
        if self._verifying is not None and not self._verifying.done():
            self._verifying.cancel()
            await asyncio.gather(self._verifying, return_exceptions=True)
        await self.verifications.close()
        await self.db.close()
        if self._owns_store:
            await self.store.close()

    # -- the tree and proofs ----------------------------------------------------------------

    async def tree_size(self) -> int:
        return (await self.db.state()).size

    async def inclusion_proof(
        self, position: int, size: int | None = None
    ) -> proofs.InclusionProof:
        return await proofs.inclusion_proof(
            self.db, position, size if size is not None else await self.tree_size()
        )

    async def consistency_proof(self, first: int, second: int) -> proofs.ConsistencyProof:
        return await proofs.consistency_proof(self.db, first, second)

    # -- checkpoints ------------------------------------------------------------------------

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await self.db.latest_checkpoint()

    async def checkpoint(self, size: int) -> StoredCheckpoint:
        found = await self.db.checkpoint(size)
        if found is None:
            raise CheckpointNotFound(f"there is no checkpoint of size {size}")
        return found

    async def make_checkpoint(self) -> StoredCheckpoint:
        """Sign the tree as it is now (reusing the latest checkpoint if it is of this size)."""
        if self.signer is None:
            raise SigningUnavailable("this process has no ledger private key")
        tree = await self.db.state()
        latest = await self.db.latest_checkpoint()
        if latest is not None and latest.size == tree.size:
            return latest
        cp = Checkpoint.make(self.origin, tree.size, tree.root())
        stored = StoredCheckpoint(
            cp.size, cp.root, cp.time, sign_checkpoint(cp, self.signer).note()
        )
        if await self.db.add_checkpoint(stored):
            return stored
        return await self.checkpoint(cp.size)  # another process signed this size first

    async def add_cosignature(
        self, size: int, signature_line: str, department: str | None = None
    ) -> PublicKey:
        """Store a witness cosignature of the stored checkpoint ``size`` after verifying it.

        ``department``: the authenticated witness's department; if given, the key must be that
        department's. Returns the witness key; storing the same cosignature twice is harmless.
        """
        stored = await self.checkpoint(size)
        try:
            sig = parse_signature_line(signature_line.strip("\n") + "\n")
            cp, _ = open_checkpoint(stored.note, self.trusted.ledger)
            key = check_cosignature(cp, sig, self.trusted)
        except (NoteError, CheckpointError) as exc:
            raise CosignatureRejected(str(exc)) from exc
        if department is not None and key.department != department:
            raise CosignatureRejected(f"{key.name} is not the {department} witness key")
        signed_at = cosignature_time(sig)
        if signed_at > datetime.now(UTC) + FUTURE_TOLERANCE:  # c2sp: verifiers MAY reject these
            raise CosignatureRejected(f"cosignature by {key.name} is dated in the future")
        await self.db.add_cosignature(size, key.name, key.key_id, signed_at, sig.line())
        return key

    # -- evidence and verification ----------------------------------------------------------

    async def evidence(self, case_id: UUID, events: Sequence[RecordedEvent] | None = None) -> bytes:
        """The case's evidence bundle (canonical JSON), against a checkpoint covering it;
        ``events``: the case's events, when the caller has just read them."""
        if events is None:
            events = await self.store.read_case(case_id)
        if not events:
            raise CaseNotFound(case_id)
        last = max(e.position for e in events)
        stored = await self.db.covering_checkpoint(last)
        if stored is None:
            stored = await self.make_checkpoint()
        proof_list = await proofs.inclusion_proofs(
            self.db, [e.position for e in events], stored.size
        )
        return bundles.build_bundle(events, proof_list, stored, self.trusted)

    async def verify(
        self,
        progress: Progress | None = None,
        external: Sequence[Checkpoint] = (),
        *,
        workers: int | None = None,
        ranges: int | None = None,
    ) -> VerifyReport:
        """``verify_ledger`` over this service's store (``workers``, ``ranges``: see there); the
        report and when it ended are kept as ``last_verified`` (the metrics show them)."""
        report = await verify_ledger(
            self.store,
            self.db,
            self.trusted,
            external=external,
            progress=progress,
            workers=workers,
            ranges=ranges,
        )
        self.last_verified = (datetime.now(UTC), report)
        return report

    async def verify_shared(self) -> VerifyReport:
        """``verify()`` one run at a time: a call made while a run is going joins it and gets
        its report, rather than starting another pass over the whole log (what the API's
        verify route serves: a second auditor's click must not double the load). The report
        says where the run ended (``log_size``); events appended after it started are checked
        by the next run. A caller that goes away (a closed connection) leaves the run to the
        others who wait for it."""
        run = self._verifying
        if run is None or run.done():
            run = self._verifying = asyncio.ensure_future(self.verify())
        return await asyncio.shield(run)
