"""Checkpoints, cosignatures, proofs and the witness protocol against real databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.audit.checkpoints import CheckpointScheduler, cosign, verify_signed
from ledger.audit.errors import CheckpointNotFound, CosignatureRejected, ProofError, WitnessRefused
from ledger.audit.keys import KeyConfig, Signer, load_signer
from ledger.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.audit.service import AuditService
from ledger.audit.witness import cosign as witness_cosign
from ledger.audit.witness import load_state

from .helpers import fill, local_transport


def witness(config: KeyConfig, department: str) -> Signer:
    return load_signer(config.key_dir / f"witness-{department}.key")


async def test_checkpoints_proofs_and_cosignatures(
    audit: AuditService, key_config: KeyConfig, tmp_path: Path
) -> None:
    await fill(audit.store, 12, 5)
    first = await audit.make_checkpoint()
    assert first.size == 60
    assert await audit.make_checkpoint() == first  # nothing new: the same checkpoint
    cp, cosigners = verify_signed(first.full_note(), audit.trusted)
    assert (cp.size, cp.root, cosigners) == (60, first.root, [])

    # every witness cosigns through the protocol (in-process transport)
    for dept in ("tax", "hrss", "medical"):
        await witness_cosign(
            witness(key_config, dept),
            audit.trusted.ledger,
            tmp_path / f"{dept}.json",
            *local_transport(audit),
        )
    latest = await audit.latest_checkpoint()
    assert latest is not None
    assert len(verify_signed(latest.full_note(), audit.trusted)[1]) == 3

    # the log grows: proofs against both checkpoints verify
    await fill(audit.store, 5, 3, seed=5)
    second = await audit.make_checkpoint()
    assert second.size == 75
    cons = await audit.consistency_proof(60, 75)
    assert verify_consistency(60, 75, first.root, second.root, cons.path)
    events = await audit.store.read_log(0, 100)
    for e in (events[0], events[41], events[74]):
        proof = await audit.inclusion_proof(e.position, 75)
        assert proof.leaf_hash == leaf_hash(e.hash)
        assert verify_inclusion(e.position - 1, 75, proof.leaf_hash, proof.path, second.root)
    with pytest.raises(ProofError):
        await audit.inclusion_proof(76, 75)
    with pytest.raises(ProofError):
        await audit.consistency_proof(10, 76)
    with pytest.raises(ProofError):
        await audit.consistency_proof(20, 10)

    # the tax witness moves on with a consistency proof from 60; state file updated
    out = await witness_cosign(
        witness(key_config, "tax"),
        audit.trusted.ledger,
        tmp_path / "tax.json",
        *local_transport(audit),
    )
    assert (out.previous_size, out.size) == (60, 75)
    state = load_state(tmp_path / "tax.json")
    assert state is not None
    assert (state.size, state.root) == (75, second.root)


async def test_cosignatures_are_only_accepted_when_they_should_be(
    audit: AuditService, key_config: KeyConfig
) -> None:
    await fill(audit.store, 3, 2)
    stored = await audit.make_checkpoint()
    cp, _ = verify_signed(stored.note, audit.trusted)
    tax = witness(key_config, "tax")
    good = cosign(cp, tax).line()
    with pytest.raises(CheckpointNotFound):
        await audit.add_cosignature(stored.size + 1, good)
    with pytest.raises(CosignatureRejected, match="not the hrss witness"):
        await audit.add_cosignature(stored.size, good, department="hrss")
    stranger = Signer.from_seed(tax.name, tax.public.sig_type, b"\x07" * 32)  # same name
    with pytest.raises(CosignatureRejected, match="not a configured witness"):
        await audit.add_cosignature(stored.size, cosign(cp, stranger).line())
    tampered = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]
    with pytest.raises(CosignatureRejected):
        await audit.add_cosignature(stored.size, tampered)
    with pytest.raises(CosignatureRejected, match="malformed"):
        await audit.add_cosignature(stored.size, "hello")
    key = await audit.add_cosignature(stored.size, good, department="tax")
    assert key.department == "tax"
    await audit.add_cosignature(stored.size, good)  # twice: harmless
    again = await audit.checkpoint(stored.size)
    assert len(again.cosignatures) == 1


async def test_witness_refuses_rollback_fork_and_bad_signatures(
    audit: AuditService, key_config: KeyConfig, tmp_path: Path
) -> None:
    await fill(audit.store, 4, 4)
    await audit.make_checkpoint()
    tax, state = witness(key_config, "tax"), tmp_path / "tax.json"
    fetch, consistency, submit = local_transport(audit)
    await witness_cosign(tax, audit.trusted.ledger, state, fetch, consistency, submit)
    before = state.read_bytes()
    note = await fetch()

    async def older() -> str:  # a smaller checkpoint than the one cosigned
        return (await audit.checkpoint(16)).note

    async def forged() -> str:
        return note.replace("\n16\n", "\n17\n")

    async def bad_proof(first: int, second: int) -> list[bytes]:
        return [bytes(32)]

    await fill(audit.store, 1, 1, seed=3)
    await audit.make_checkpoint()
    with pytest.raises(WitnessRefused, match="not validly signed"):
        await witness_cosign(tax, audit.trusted.ledger, state, forged, consistency, submit)
    with pytest.raises(WitnessRefused, match="consistency proof"):
        await witness_cosign(tax, audit.trusted.ledger, state, fetch, bad_proof, submit)
    assert state.read_bytes() == before  # refused: state untouched
    await witness_cosign(tax, audit.trusted.ledger, state, fetch, consistency, submit)
    with pytest.raises(WitnessRefused, match="rollback"):
        await witness_cosign(tax, audit.trusted.ledger, state, older, consistency, submit)
    hrss_key = witness(key_config, "hrss").public
    with pytest.raises(WitnessRefused):
        await witness_cosign(tax, hrss_key, state, fetch, consistency, submit)


async def test_scheduler_makes_checkpoints_every_n_events_or_t_seconds(
    audit: AuditService,
) -> None:
    scheduler = CheckpointScheduler(audit, every_events=10, every_seconds=300)
    assert await scheduler.tick() is None  # empty log: nothing to sign
    await fill(audit.store, 1, 4)
    made = await scheduler.tick()  # no checkpoint yet: the first one is made at once
    assert made is not None
    assert made.size == 4
    await fill(audit.store, 1, 4, seed=2)
    assert await scheduler.tick() is None  # 4 new events, 0 s: not due
    later = datetime.now(UTC) + timedelta(seconds=301)
    assert (await scheduler.tick(now=later)) is not None  # T elapsed
    await fill(audit.store, 2, 5, seed=3)
    assert (await scheduler.tick()) is not None  # N reached
    task = scheduler.start()
    await scheduler.stop()
    assert task.done()


async def test_a_cosignature_dated_in_the_future_is_refused(
    audit: AuditService, key_config: KeyConfig
) -> None:
    await fill(audit.store, 1, 2)
    stored = await audit.make_checkpoint()
    cp, _ = verify_signed(stored.note, audit.trusted)
    late = cosign(cp, witness(key_config, "tax"), datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(CosignatureRejected, match="future"):
        await audit.add_cosignature(stored.size, late.line())


async def test_verifications_asked_for_at_once_share_one_run(audit: AuditService) -> None:
    await fill(audit.store, 6, 5)
    first, second = await asyncio.gather(audit.verify_shared(), audit.verify_shared())
    assert first.ok
    assert first.events_checked == 30
    assert first is second  # one pass over the log, one report for both callers
    later = await audit.verify_shared()  # asked after that run ended: a run of its own
    assert later.ok
    assert later is not first


async def test_a_caller_that_leaves_does_not_stop_the_shared_verification(
    audit: AuditService,
) -> None:
    await fill(audit.store, 6, 5)
    leaving = asyncio.ensure_future(audit.verify_shared())
    staying = asyncio.ensure_future(audit.verify_shared())
    await asyncio.sleep(0)  # both are now waiting on the same run
    leaving.cancel()
    report = await staying
    assert report.ok
    assert report.events_checked == 30
    assert leaving.cancelled()
